package records

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzCanonical holds Canonical, and fastCanonical within it, to decoding
// and encoding again (oldCanonical, the oracle): the same bytes or the same
// error for every input; and fastCanonical takes no value with a member
// twice.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{"b": 1, "a": [1, 2.50, "x"]}`, ` "\u0041<&>" `, `{"a":{"d":true,"c":false}}`,
		`[]`, `{}`, ` [ { } , [ ] ] `, `{"a":1,"\u0061":2}`, `{"a":1,"b":{"a":2}}`,
		`{"é":1,"e":2,"z":3,"\u00e9\u0301":4}`, `"\ud83d\ude00\ud800\udc00x\udc00\ud800\u0041"`,
		`"\b\f\n\r\t\/\\\"\u0001\u001f\u007f\u2028\u2029"`, "\"\u2028\u2029\x7f\"", `"\ud800\ud800"`,
		`{"a":1,}`, `[1,]`, `{"a" 1}`, `{1:2}`, `[1 2]`, `{"a":1}x`, `[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]`,
		"\"a\xffb\"", "[\"\xe2\x80\"]", `{"a":01}`, `[-]`, `[tru]`, `{"\ud800":1,"\ufffd":2}`,
	} {
		f.Add([]byte(s))
	}
	for _, s := range trickyValues {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := oldCanonical(b)
		got, err := Canonical(b)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || !bytes.Equal(got, want) {
			t.Fatalf("Canonical(%q) = %q, %v; decoding gives %q, %v", b, got, err, want, wantErr)
		}
		wantCSV, wantCSVErr := oldCSVJSON(string(b))
		gotCSV, errCSV := csvJSON(string(b))
		if fmt.Sprint(errCSV) != fmt.Sprint(wantCSVErr) || !bytes.Equal(gotCSV, wantCSV) {
			t.Fatalf("csvJSON(%q) = %q, %v; want %q, %v", b, gotCSV, errCSV, wantCSV, wantCSVErr)
		}
		fast, ok := fastCanonical(b)
		if !ok {
			return
		}
		if wantErr != nil || !bytes.Equal(fast, want) {
			t.Fatalf("fastCanonical(%q) = %q; decoding gives %q, %v", b, fast, want, wantErr)
		}
		if err := oldCheckDuplicates(b, false); err != nil {
			t.Fatalf("fastCanonical(%q) took a value with %v", b, err)
		}
	})
}

// TestFastCanonicalTakes checks that the nested values write usually reads
// are canonicalized without the decoder, and that what it leaves to the
// decoder is left.
func TestFastCanonicalTakes(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`{"stock": 3, "price": 2.50}`, `{"price":2.50,"stock":3}`},
		{`[1, {"b": [true, null], "a": "x\u0041<&>\n"}]`, `[1,{"a":"xA<&>\n","b":[true,null]}]`},
		{`{"\u00e9": 1, "f": 2, "e": 3}`, `{"e":3,"f":2,"é":1}`},
		{`"\ud83d\ude00 \u00e9"`, `"😀 é"`},
	} {
		got, ok := fastCanonical([]byte(tc.in))
		if !ok || string(got) != tc.want {
			t.Errorf("fastCanonical(%s) = %s, %v; want %s", tc.in, got, ok, tc.want)
		}
	}
	deep := bytes.Repeat([]byte("["), maxCanonDepth+2)
	deep = append(deep, bytes.Repeat([]byte("]"), maxCanonDepth+2)...)
	// A lone surrogate is left to the decoder too, and checkEscapes refuses it.
	for _, in := range []string{`{"a":1,"a":2}`, `{"x":[{"a":1,"\u0061":2}]}`, string(deep), `{"a":1}x`, "\"\xff\"", `"\ud83d\ude00 \ud800"`} {
		if got, ok := fastCanonical([]byte(in)); ok {
			t.Errorf("fastCanonical(%s) = %s, took it", in, got)
		}
	}
}

// FuzzCSVCell holds csvJSON to its rule, written the slow way: a cell that
// is JSON is its canonical form (refused with a member twice, or with a
// lone surrogate escape), and any other cell is a string.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"user-000001", " 12 ", `{"a": 1}`, `[1, "x"]`, "crème brûlée", "tomato", "true", " null", "nul", `"q"`, `"a\"b"`, `{"a":1,"a":2}`, "", " ", "-", "-x", "\v1", "{", "[}"} {
		f.Add(s)
	}
	for _, s := range trickyValues {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cell string) {
		got, err := csvJSON(cell)
		var want []byte
		var werr error
		if c, derr := decodeCanonical([]byte(cell)); derr == nil {
			want, werr = c, checkDuplicates([]byte(cell), false)
			if eerr := oldCheckEscapes([]byte(cell)); eerr != nil {
				want, werr = nil, eerr
			}
		} else {
			want, werr = encodeCanonical(cell)
		}
		if (err != nil) != (werr != nil) || err == nil && string(got) != string(want) {
			t.Fatalf("csvJSON(%q) = %q, %v; want %q, %v", cell, got, err, want, werr)
		}
	})
}
