package codec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/shardflow/shardflow/persist/codec"
)

// roundTrip checks that Decode(Encode(dst, v)) == v and that Encode appends
// to dst without touching what dst held.
func roundTrip[T any](t *rapid.T, c codec.Codec[T], v T, eq func(a, b T) bool) {
	prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
	dst := append([]byte(nil), prefix...)
	out := c.Encode(dst, v)
	if !bytes.Equal(out[:len(prefix)], prefix) {
		t.Fatalf("Encode changed the prefix: %x -> %x", prefix, out[:len(prefix)])
	}
	got, err := c.Decode(out[len(prefix):])
	if err != nil {
		t.Fatalf("Decode(Encode(%v)): %v", v, err)
	}
	if !eq(got, v) {
		t.Fatalf("Decode(Encode(%v)) = %v", v, got)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Run("bytes", rapid.MakeCheck(func(t *rapid.T) {
		roundTrip[[]byte](t, codec.Bytes{}, rapid.SliceOf(rapid.Byte()).Draw(t, "v"), bytes.Equal)
	}))
	t.Run("string", rapid.MakeCheck(func(t *rapid.T) {
		v := string(rapid.SliceOf(rapid.Byte()).Draw(t, "v")) // not only UTF-8
		roundTrip[string](t, codec.String{}, v, func(a, b string) bool { return a == b })
	}))
	t.Run("int64", rapid.MakeCheck(func(t *rapid.T) {
		roundTrip[int64](t, codec.Int64{}, rapid.Int64().Draw(t, "v"), func(a, b int64) bool { return a == b })
	}))
	t.Run("uint64", rapid.MakeCheck(func(t *rapid.T) {
		roundTrip[uint64](t, codec.Uint64{}, rapid.Uint64().Draw(t, "v"), func(a, b uint64) bool { return a == b })
	}))
	type rec struct {
		Name string
		N    int64
		Tags []string
	}
	t.Run("json", rapid.MakeCheck(func(t *rapid.T) {
		v := rec{
			Name: rapid.String().Draw(t, "name"), // valid UTF-8: JSON strings are
			N:    rapid.Int64().Draw(t, "n"),
			Tags: rapid.SliceOfN(rapid.String(), 1, 3).Draw(t, "tags"),
		}
		roundTrip[rec](t, codec.JSON[rec]{}, v, func(a, b rec) bool { return reflect.DeepEqual(a, b) })
	}))
}

// TestOrderPreserving checks that the integer codecs order encodings as the
// numbers, which is what makes part key bounds numeric bounds.
func TestOrderPreserving(t *testing.T) {
	t.Run("int64", rapid.MakeCheck(func(t *rapid.T) {
		a, b := rapid.Int64().Draw(t, "a"), rapid.Int64().Draw(t, "b")
		var c codec.Int64
		if got, want := bytes.Compare(c.Encode(nil, a), c.Encode(nil, b)), cmp(a, b); got != want {
			t.Fatalf("compare(enc(%d), enc(%d)) = %d, want %d", a, b, got, want)
		}
	}))
	t.Run("uint64", rapid.MakeCheck(func(t *rapid.T) {
		a, b := rapid.Uint64().Draw(t, "a"), rapid.Uint64().Draw(t, "b")
		var c codec.Uint64
		if got, want := bytes.Compare(c.Encode(nil, a), c.Encode(nil, b)), cmp(a, b); got != want {
			t.Fatalf("compare(enc(%d), enc(%d)) = %d, want %d", a, b, got, want)
		}
	}))
	var c codec.Int64
	ends := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64}
	for i := 1; i < len(ends); i++ {
		if bytes.Compare(c.Encode(nil, ends[i-1]), c.Encode(nil, ends[i])) >= 0 {
			t.Errorf("enc(%d) >= enc(%d)", ends[i-1], ends[i])
		}
	}
}

func cmp[T int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestDecodeDoesNotAlias(t *testing.T) {
	in := []byte("hello")
	b, _ := codec.Bytes{}.Decode(in)
	s, _ := codec.String{}.Decode(in)
	in[0] = 'J'
	if string(b) != "hello" || s != "hello" {
		t.Fatalf("decoded values changed with their input: %q %q", b, s)
	}
	if e, _ := (codec.Bytes{}).Decode(nil); e == nil {
		t.Fatal("Bytes.Decode(nil) returned nil, documented as never nil")
	}
}

func TestErrors(t *testing.T) {
	var le *codec.LengthError
	for _, err := range []error{
		func() error { _, err := codec.Int64{}.Decode(make([]byte, 7)); return err }(),
		func() error { _, err := codec.Uint64{}.Decode(make([]byte, 9)); return err }(),
		func() error { _, err := codec.Unit{}.Decode([]byte{0}); return err }(),
	} {
		if !errors.As(err, &le) || !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("error %v: want a *LengthError wrapping ErrMalformed", err)
		}
	}
	var de *codec.DecodeError
	for _, in := range []string{``, `  `, `{`, `{"X":1} {}`, `{"X":1}]`, `"x"`, `null`, ` null `} {
		_, err := codec.JSON[struct{ X int }]{}.Decode([]byte(in))
		if !errors.As(err, &de) || !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("JSON.Decode(%q) = %v: want a *DecodeError wrapping ErrMalformed", in, err)
		}
	}
}

func TestJSONEncodePanicsOnUnencodable(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Encode of a NaN did not panic")
		}
	}()
	codec.JSON[float64]{}.Encode(nil, math.NaN())
}

// Encode refuses a string that is not valid UTF-8 wherever encoding/json
// would write one: encoding/json writes U+FFFD for its bad bytes, so "\xff"
// and "\xfe" would be one key. Where encoding/json writes nothing (a field
// tagged "-"), nothing is refused.
func TestJSONEncodePanicsOnInvalidUTF8(t *testing.T) {
	type inner struct{ S string }
	type rec struct {
		M map[string][]inner
		A any
	}
	for name, encode := range map[string]func(){
		"string":       func() { codec.JSON[string]{}.Encode(nil, "\xff") },
		"nested field": func() { codec.JSON[rec]{}.Encode(nil, rec{M: map[string][]inner{"k": {{S: "ok"}, {S: "a\xfeb"}}}}) },
		"map key":      func() { codec.JSON[map[string]int]{}.Encode(nil, map[string]int{"\xff": 1}) },
		"in an any":    func() { codec.JSON[rec]{}.Encode(nil, rec{A: []any{"\xc0"}}) },
		"text key":     func() { codec.JSON[map[textKey]int]{}.Encode(nil, map[textKey]int{"\xff": 1}) },
		"pointer marshaler, by value": func() {
			codec.JSON[ptrMarshaler]{}.Encode(nil, ptrMarshaler{S: "\xff"})
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Encode of invalid UTF-8 did not panic", name)
				}
			}()
			encode()
		}()
	}
	type tagged struct {
		A   int
		Raw string `json:"-"`
	}
	if got := (codec.JSON[tagged]{}).Encode(nil, tagged{A: 1, Raw: "\xff"}); string(got) != `{"A":1}` {
		t.Errorf("a field encoding/json skips: %s", got)
	}
	// Valid strings, a valid U+FFFD, []byte (base64) and nil values encode
	// as before.
	got := (codec.JSON[rec]{}).Encode(nil, rec{M: map[string][]inner{"é": {{S: "😀\ufffd"}}}, A: []byte{0xff}})
	if want := "{\"M\":{\"é\":[{\"S\":\"😀\ufffd\"}]},\"A\":\"/w==\"}"; string(got) != want {
		t.Errorf("Encode = %s, want %s", got, want)
	}
}

// A valid string holding a backslash then "ufffd" encodes (the backslash
// escaped), however many backslashes come before; one more invalid byte
// after them is still refused. Encode used to refuse any encoding holding
// the six bytes \ufffd, and panicked on C:\ufffd\dir.
func TestJSONEncodesLiteralBackslashUFFFD(t *testing.T) {
	for _, v := range []string{`\ufffd`, `C:\ufffd\dir`, `\\ufffd`, `\\\ufffd`, "\ufffd\ufffd", "\ufffd\uFFFD\u0000"} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("Encode(%q) panicked: %v", v, r)
				}
			}()
			b := codec.JSON[string]{}.Encode(nil, v)
			if got, err := (codec.JSON[string]{}).Decode(b); err != nil || got != v {
				t.Errorf("Decode(Encode(%q)) = %q, %v", v, got, err)
			}
		}()
	}
	for _, v := range []string{"\\\xff", "\\\\\xff", "\\ufffd\xfe"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Encode(%q), invalid UTF-8 after backslashes, did not panic", v)
				}
			}()
			codec.JSON[string]{}.Encode(nil, v)
		}()
	}
}

// A field tagged ",string" is quoted twice, so a bad byte's \ufffd escape
// comes out behind an escaped backslash, like a valid string's literal
// backslash and "ufffd": Encode tells them apart by reading the encoding
// back, refusing the bad byte and keeping the text. The escape detection
// that counted backslashes let "\xff" and "\xfe" encode alike here.
func TestJSONStringOptionInvalidUTF8(t *testing.T) {
	type rec struct {
		A string `json:"a,string"`
	}
	for _, v := range []string{"\xff", "\xfe", "x\\y\xc0"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Encode of %q under ,string did not panic", v)
				}
			}()
			codec.JSON[rec]{}.Encode(nil, rec{A: v})
		}()
	}
	for _, v := range []string{`\ufffd`, `C:\ufffd\dir`, "\ufffd"} {
		b := codec.JSON[rec]{}.Encode(nil, rec{A: v})
		if got, err := (codec.JSON[rec]{}).Decode(b); err != nil || got.A != v {
			t.Errorf("Decode(Encode(%q)) = %q, %v", v, got.A, err)
		}
	}
}

// textKey is a string map key that also marshals as text: encoding/json
// takes a string kind's own bytes for the key all the same.
type textKey string

func (k textKey) MarshalText() ([]byte, error) { return []byte(k), nil }

// ptrMarshaler marshals itself only through a pointer, which
// encoding/json does not have when given the value.
type ptrMarshaler struct{ S string }

func (p *ptrMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"custom"`), nil }

// optInt is null when it holds nothing, as nullable types of SQL-ish
// libraries are: its own null must decode.
type optInt struct {
	V     int
	Valid bool
}

func (o optInt) MarshalJSON() ([]byte, error) {
	if !o.Valid {
		return []byte("null"), nil
	}
	return json.Marshal(o.V)
}

func (o *optInt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = optInt{}
		return nil
	}
	o.Valid = true
	return json.Unmarshal(b, &o.V)
}

// A cyclic value panics at once, as encoding/json reports the cycle.
func TestJSONEncodeCyclePanics(t *testing.T) {
	m := map[string]any{}
	m["a"], m["b"] = m, m
	defer func() {
		if recover() == nil {
			t.Fatal("Encode of a cyclic map did not panic")
		}
	}()
	codec.JSON[map[string]any]{}.Encode(nil, m)
}

// Numbers in an interface decode as json.Number, so a value read and
// written back encodes to the same bytes: a float64 would round 2^53+1.
func TestJSONNumbersStayExact(t *testing.T) {
	for _, in := range []string{`9007199254740993`, `{"f":0.1,"n":-9223372036854775808}`, `[1e400]`} {
		v, err := codec.JSON[any]{}.Decode([]byte(in))
		if err != nil {
			t.Fatalf("Decode(%s): %v", in, err)
		}
		if out := (codec.JSON[any]{}).Encode(nil, v); string(out) != in {
			t.Errorf("%s decodes and encodes as %s", in, out)
		}
	}
}

// A null decodes only into a T that Encode writes as null for some value.
func TestJSONNull(t *testing.T) {
	if v, err := (codec.JSON[int]{}).Decode([]byte("null")); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("JSON[int].Decode(null) = %d, %v: want ErrMalformed", v, err)
	}
	if v, err := (codec.JSON[*int]{}).Decode([]byte("null")); err != nil || v != nil {
		t.Errorf("JSON[*int].Decode(null) = %v, %v", v, err)
	}
	if v, err := (codec.JSON[[]int]{}).Decode([]byte(" null ")); err != nil || v != nil {
		t.Errorf("JSON[[]int].Decode(null) = %v, %v", v, err)
	}
	// A type that writes null itself reads it back.
	c := codec.JSON[optInt]{}
	enc := c.Encode(nil, optInt{})
	if v, err := c.Decode(enc); string(enc) != "null" || err != nil || v.Valid {
		t.Errorf("optInt{} encodes as %s and decodes as %+v, %v", enc, v, err)
	}
}
