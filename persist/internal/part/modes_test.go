package part

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// inModes runs f as it is, where a Decoded references the part's values,
// and again with maxReferenced lowered to 0, where it copies them as it
// does for a part too large for 32-bit spans.
func inModes(t *testing.T, f func(t *testing.T)) {
	t.Run("referenced", f)
	t.Run("copied", func(t *testing.T) {
		defer func(saved int) { maxReferenced = saved }(maxReferenced)
		maxReferenced = 0
		f(t)
	})
}

func TestCopiedMode(t *testing.T) {
	inModes(t, func(t *testing.T) {
		data, _, err := Encode(testShapes()["small"])
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Release()
		copied := maxReferenced == 0
		if d.copied != copied || (&d.keys.base[0] == &data[0]) == copied {
			t.Fatalf("maxReferenced %d: copied %v, keys in the part %v", maxReferenced, d.copied, &d.keys.base[0] == &data[0])
		}
	})
}

// TestUseAfterReleasePoisoned checks that the invariants build tag catches
// a Key kept past the Release of a Decoded holding its blob, and a blob
// released while a Decoded still references it: either reads poison.
func TestUseAfterReleasePoisoned(t *testing.T) {
	if !poisonFreed {
		t.Skip("poisoning needs the invariants build tag")
	}
	us := testShapes()["small"]
	data, _, err := Encode(us)
	if err != nil {
		t.Fatal(err)
	}
	poison := bytes.Repeat([]byte{poisonByte}, len(us[0].Key))

	bb := GetBlobBuffer()
	blob := append(bb.Storage(), data...)
	d, err := Decode(blob)
	if err != nil {
		t.Fatal(err)
	}
	d.Hold(bb, blob)
	kept := d.Key(0)
	if !bytes.Equal(kept, us[0].Key) {
		t.Fatalf("key 0 = %x, want %x", kept, us[0].Key)
	}
	d.Release()
	if !bytes.Equal(kept, poison) {
		t.Fatalf("key 0 kept past Release = %x, not poisoned", kept)
	}

	bb = GetBlobBuffer()
	blob = append(bb.Storage(), data...)
	if d, err = Decode(blob); err != nil {
		t.Fatal(err)
	}
	bb.Release(blob) // too early: d references blob
	if k := d.Key(0); !bytes.Equal(k, poison) {
		t.Fatalf("key 0 of a released blob = %x, not poisoned", k)
	}
	d.Release()
}

// FuzzDecodeModes decodes arbitrary bytes both referencing and copying
// values: both must refuse the bytes or decode the same rows.
func FuzzDecodeModes(f *testing.F) {
	for _, name := range []string{"small", "long values", "repeated"} {
		data, _, err := Encode(testShapes()[name][:min(len(testShapes()[name]), 300)])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// A hint the keys' lengths belie: both modes read the page at its
	// stride.
	lying, _, err := encode(keysOfLengths(4, 3, 5), "v1 4 -")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(lying)
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, rerr := Decode(data)
		saved := maxReferenced
		maxReferenced = 0
		cp, cerr := Decode(data)
		maxReferenced = saved
		if (rerr == nil) != (cerr == nil) {
			t.Fatalf("referenced: %v; copied: %v", rerr, cerr)
		}
		if rerr != nil {
			// Decode turns a panic into ErrCorrupt: a bug all the same.
			for _, err := range []error{rerr, cerr} {
				if !errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "panicked") {
					t.Fatalf("decode error %v: want ErrCorrupt, not a panic", err)
				}
			}
			return
		}
		defer ref.Release()
		defer cp.Release()
		if ref.Len() != cp.Len() {
			t.Fatalf("referenced %d rows, copied %d", ref.Len(), cp.Len())
		}
		for i := range ref.Len() {
			if !bytes.Equal(ref.Key(i), cp.Key(i)) || !bytes.Equal(ref.Val(i), cp.Val(i)) ||
				ref.Time(i) != cp.Time(i) || ref.Diff(i) != cp.Diff(i) {
				t.Fatalf("row %d differs", i)
			}
		}
	})
}

// TestFixedRun checks which columns are held as a fixed run (one plain
// page of values of one length) and that a row index out of range panics
// as it does for spans.
func TestFixedRun(t *testing.T) {
	shapes := testShapes()
	for _, tc := range []struct {
		shape      string
		keys, vals bool // fixed
	}{
		{"p1", true, false},        // keys plain, values dictionary encoded
		{"small", true, true},      // one plain page each
		{"overflow", false, false}, // several plain pages of keys
		{"repeated", false, false}, // dictionary encoded
	} {
		us := shapes[tc.shape]
		data, _, err := Encode(us)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if (d.keys.fixed.n > 0) != tc.keys || (d.vals.fixed.n > 0) != tc.vals {
			t.Errorf("%s: keys fixed %v, vals fixed %v; want %v, %v", tc.shape, d.keys.fixed.n > 0, d.vals.fixed.n > 0, tc.keys, tc.vals)
		}
		for i := range us {
			if !bytes.Equal(d.Key(i), us[i].Key) || !bytes.Equal(d.Val(i), us[i].Val) {
				t.Fatalf("%s: row %d differs", tc.shape, i)
			}
		}
		for _, i := range []int{-1, d.Len()} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: Key(%d) of %d rows did not panic", tc.shape, i, d.Len())
					}
				}()
				d.Key(i)
			}()
		}
		if k := d.Key(0); cap(k) != len(k) {
			t.Errorf("%s: key 0 has room to append into the part", tc.shape)
		}
		d.Release()
	}
}
