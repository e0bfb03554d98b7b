package codec_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/shardflow/shardflow/persist/codec"
)

// FuzzInt64 checks that Int64 and Uint64 decode exactly the 8-byte inputs,
// that a decoded value re-encodes to the same bytes, and that every other
// input is an ErrMalformed error.
func FuzzInt64(f *testing.F) {
	for _, s := range [][]byte{nil, {1}, make([]byte, 8), bytes.Repeat([]byte{0xff}, 8), make([]byte, 9)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i, err := codec.Int64{}.Decode(b)
		u, uerr := codec.Uint64{}.Decode(b)
		if len(b) != 8 {
			if !errors.Is(err, codec.ErrMalformed) || !errors.Is(uerr, codec.ErrMalformed) {
				t.Fatalf("Decode(%x) = %v, %v: want ErrMalformed", b, err, uerr)
			}
			return
		}
		if err != nil || uerr != nil {
			t.Fatalf("Decode(%x): %v, %v", b, err, uerr)
		}
		if e := (codec.Int64{}).Encode(nil, i); !bytes.Equal(e, b) {
			t.Fatalf("Int64 re-encodes %x as %x", b, e)
		}
		if e := (codec.Uint64{}).Encode(nil, u); !bytes.Equal(e, b) {
			t.Fatalf("Uint64 re-encodes %x as %x", b, e)
		}
	})
}

// FuzzJSON checks that JSON decoding of arbitrary bytes never panics, fails
// only with ErrMalformed, and that whatever decodes survives a round trip.
func FuzzJSON(f *testing.F) {
	type rec struct {
		A string            `json:"a"`
		B []int64           `json:"b"`
		C map[string]bool   `json:"c"`
		D *rec              `json:"d"`
		E map[string]string `json:"e"`
	}
	for _, s := range []string{``, `{}`, `{"a":"x","b":[1,2],"c":{"k":true},"d":{"a":"y"}}`, `[1]`, `null`, `{"a":1}`, "{\"a\":\"\xff\"}", `{"a":"C:\\ufffd","e":{"\\\\ufffd":"\ufffd"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := codec.JSON[rec]{}
		v, err := c.Decode(b)
		if err != nil {
			if !errors.Is(err, codec.ErrMalformed) {
				t.Fatalf("Decode(%q) = %v: want ErrMalformed", b, err)
			}
			return
		}
		if !utf8.Valid(b) {
			t.Fatalf("Decode(%q) took bytes that are not valid UTF-8", b)
		}
		again, err := c.Decode(c.Encode(nil, v))
		if err != nil {
			t.Fatalf("round trip of %q: %v", b, err)
		}
		if !reflect.DeepEqual(again, v) {
			t.Fatalf("round trip of %q: %+v != %+v", b, again, v)
		}
	})
}
