package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"unicode/utf8"
)

// JSON encodes values of T with encoding/json. Struct fields are encoded in
// declaration order and map keys sorted, so equal values encode to equal
// bytes; the byte order of encodings is not the order of the values.
//
// Decode ignores object fields T does not have, so data written by a newer T
// with more fields still decodes. Numbers decoded into an interface (T any,
// map[string]any) are json.Number, which keeps them exact: a float64 would
// turn 2^53+1 into 2^53, and a key read and written back into another key.
// A top-level null is malformed for a T that cannot be null (not a pointer,
// interface, map or slice, and not marshalling or unmarshalling itself).
//
// Encode panics if v cannot be represented in JSON (a channel, a function,
// a NaN, a string that is not valid UTF-8): the codec was given a value it
// cannot serve, which no retry would fix. encoding/json writes the bad
// bytes of such a string as \ufffd, so "\xff" and "\xfe" would encode
// alike; Encode refuses any encoding holding that escape, which
// encoding/json writes for nothing else (a value marshalling itself to it
// is refused too). Behind an escaped backslash the six characters are a
// string's text, or the escape in a field tagged ",string", which is
// quoted twice: Encode then refuses the value unless its encoding reads
// back as itself. Use String or Bytes for arbitrary bytes.
type JSON[T any] struct{}

// replacementEscape is what encoding/json writes for the bad bytes of a
// string that is not valid UTF-8; a valid U+FFFD it writes as itself.
var replacementEscape = []byte(`\ufffd`)

// Encode appends the JSON encoding of v to dst.
func (JSON[T]) Encode(dst []byte, v T) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("codec: json: cannot encode %T: %v", v, err))
	}
	if at := replacementAt(b); at >= 0 {
		panic(fmt.Sprintf("codec: json: cannot encode %T: it holds a string that is not valid UTF-8 (written as \\ufffd at byte %d of its encoding)", v, at))
	}
	if bytes.Contains(b, replacementEscape) && !readsBack[T](b) {
		// Behind an escaped backslash \ufffd is text, or, in a field
		// tagged ",string" (quoted twice), a bad byte's escape: only
		// the latter reads back as a U+FFFD that encodes otherwise.
		panic(fmt.Sprintf("codec: json: cannot encode %T: it holds a string that is not valid UTF-8 (quoted twice, in a \",string\" field)", v))
	}
	return append(dst, b...)
}

// readsBack reports whether b, an encoding of a T, decodes to a value that
// encodes to b again.
func readsBack[T any](b []byte) bool {
	v, err := JSON[T]{}.Decode(b)
	if err != nil {
		return false
	}
	again, err := json.Marshal(v)
	return err == nil && bytes.Equal(again, b)
}

// replacementAt returns where b, a JSON encoding, holds the escape \ufffd,
// or -1. A backslash escaped itself is no escape: the string \ufffd,
// written with a literal backslash, encodes as \\ufffd.
func replacementAt(b []byte) int {
	for off := 0; ; {
		i := bytes.Index(b[off:], replacementEscape)
		if i < 0 {
			return -1
		}
		i += off
		slashes := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			slashes++
		}
		if slashes%2 == 0 {
			return i
		}
		off = i + 1
	}
}

// Decode parses exactly one JSON value (white space around it allowed).
// Bytes that are not valid UTF-8 are malformed: encoding/json would read
// each bad byte as U+FFFD, so "\xff" and "\xfe" would decode alike. (An
// escaped lone surrogate, \ud800, which Encode never writes, still reads as
// U+FFFD, as encoding/json reads it.)
func (JSON[T]) Decode(b []byte) (T, error) {
	var v T
	if !utf8.Valid(b) {
		return v, &DecodeError{Codec: "json", Err: errors.New("not valid UTF-8")}
	}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) && !nullable(reflect.TypeFor[T]()) {
		return v, &DecodeError{Codec: "json", Err: fmt.Errorf("null is no %T", v)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := dec.Decode(&v)
	if err == nil {
		// Nothing but white space may follow the value.
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the JSON value")
		}
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // no value at all
	}
	if err != nil {
		var zero T
		return zero, &DecodeError{Codec: "json", Err: err}
	}
	return v, nil
}

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
)

// nullable reports whether null can be a value of t: encoding/json writes
// some value of t as null, or t decides for itself.
func nullable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return true
	}
	for _, m := range []reflect.Type{t, reflect.PointerTo(t)} {
		if m.Implements(jsonMarshaler) || m.Implements(jsonUnmarshaler) {
			return true
		}
	}
	return false
}
