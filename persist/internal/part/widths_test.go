package part

import (
	"bytes"
	"errors"
	"testing"
)

// footerOf returns the footer of an encoded part.
func footerOf(t *testing.T, data []byte) *footer {
	t.Helper()
	var f footer
	if _, err := open(data, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

func rowsEqual(d *Decoded, us []Update) bool {
	if d.Len() != len(us) {
		return false
	}
	for i := range us {
		if !bytes.Equal(d.Key(i), us[i].Key) || !bytes.Equal(d.Val(i), us[i].Val) ||
			d.Time(i) != us[i].Time || d.Diff(i) != us[i].Diff {
			return false
		}
	}
	return true
}

// Encode writes the widths every key and every value share, and "-" where
// they differ; a part with the hint and one without (as written before
// there was one) decode to the same rows, in every shape.
func TestWidthsHint(t *testing.T) {
	for _, c := range []struct {
		name string
		us   []Update
		want [2]int64
	}{
		{"none", nil, [2]int64{noWidth, noWidth}},
		{"fixed", []Update{{Key: []byte("abcd"), Val: []byte("xy")}, {Key: []byte("efgh"), Val: []byte("zw")}}, [2]int64{4, 2}},
		{"keys differ", []Update{{Key: []byte("abcd"), Val: []byte("")}, {Key: []byte("e"), Val: []byte("")}}, [2]int64{noWidth, 0}},
	} {
		data, _, err := Encode(c.us)
		if err != nil {
			t.Fatal(err)
		}
		if got := footerOf(t, data).widths; got != c.want {
			t.Errorf("%s: widths %v, want %v", c.name, got, c.want)
		}
	}
	inModes(t, func(t *testing.T) {
		for name, us := range testShapes() {
			for _, widths := range []string{"", marshalWidths(widthOf(us, colKey), widthOf(us, colVal))} {
				data, _, err := encode(us, widths)
				if err != nil {
					t.Fatal(err)
				}
				d, err := Decode(data)
				if err != nil {
					t.Fatalf("%s, widths %q: %v", name, widths, err)
				}
				if !rowsEqual(d, us) {
					t.Fatalf("%s, widths %q: rows differ", name, widths)
				}
				d.Release()
			}
		}
	})
}

// keysOfLengths returns updates whose keys have the given lengths, each
// key filled with its row's letter.
func keysOfLengths(lengths ...int) []Update {
	us := make([]Update, len(lengths))
	for i, l := range lengths {
		us[i] = Update{Key: bytes.Repeat([]byte{'a' + byte(i)}, l), Val: []byte("v"), Time: 1, Diff: 1}
	}
	return us
}

// Decode takes the hint's word for a page whose size fits it, without
// reading each length: keys of 4, 3 and 5 bytes under a hint of 4 decode,
// with no error and inside the page, to other keys. That is why only
// Encode writes the hint, from the keys themselves, and readers use a
// part's rows only once its checksum matches. A hint the page's first
// length or size contradicts is not taken: those keys decode as written.
func TestWidthsHintTrusted(t *testing.T) {
	lying := keysOfLengths(4, 3, 5)
	data, _, err := encode(lying, "v1 4 -")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(data)
	if err != nil {
		t.Fatalf("a part whose page fits its hint: %v", err)
	}
	if rowsEqual(d, lying) {
		t.Fatal("the keys decoded as written: the hint was checked against every length, not taken")
	}
	if d.Len() != 3 || !bytes.Equal(d.Key(0), lying[0].Key) || len(d.Key(1)) != 4 || len(d.Key(2)) != 4 {
		t.Fatalf("keys %q %q %q: want 4-byte keys at a stride of 8", d.Key(0), d.Key(1), d.Key(2))
	}
	d.Release()

	for _, c := range []struct {
		name   string
		us     []Update
		widths string
	}{
		{"first length differs", keysOfLengths(4, 4, 4), "v1 5 -"},
		{"page size differs", keysOfLengths(4, 4, 5), "v1 4 -"},
		{"no hint", lying, ""},
		{"hint of another version", lying, "v2 4 -"},
	} {
		data, _, err := encode(c.us, c.widths)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !rowsEqual(d, c.us) {
			t.Fatalf("%s: rows differ from those written", c.name)
		}
		d.Release()
	}
}

// A v1 widths entry that does not parse is corrupt; an entry of another
// version is no hint.
func TestParseWidths(t *testing.T) {
	for v, want := range map[string][2]int64{
		"v1 16 16":         {16, 16},
		"v1 - 0":           {noWidth, 0},
		"v1 4294967295 -":  {1<<32 - 1, noWidth},
		"v2 16 16":         {noWidth, noWidth},
		"v2":               {noWidth, noWidth},
		"":                 {noWidth, noWidth},
		"v1x":              {noWidth, noWidth},
		"v1 16 16 extra":   {},
		"v1 16":            {},
		"v1 16  16":        {},
		"v1 x 16":          {},
		"v1 016 16":        {},
		"v1 4294967296 16": {},
		"v1 -1 16":         {},
		"v1 16 16 ":        {},
	} {
		got, err := parseWidths([]byte(v))
		if want == ([2]int64{}) {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%q: %v, %v; want ErrCorrupt", v, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", v, got, err, want)
		}
	}
	data, _, err := encode(keysOfLengths(4), "v1 four -")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a part with a malformed widths entry: %v", err)
	}
}
