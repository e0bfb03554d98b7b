package codec

import (
	"bytes"
	"encoding"
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
// A top-level null is malformed for a T that Encode never writes as null
// (one that is not a pointer, interface, map or slice).
//
// Encode panics if v cannot be represented in JSON (a channel, a function,
// a NaN, a string that is not valid UTF-8, which encoding/json would
// replace with U+FFFD, so that two keys would encode alike): the codec was
// given a value it cannot serve, which no retry would fix. Use String or
// Bytes for arbitrary bytes.
type JSON[T any] struct{}

// Encode appends the JSON encoding of v to dst.
func (JSON[T]) Encode(dst []byte, v T) []byte {
	if p := invalidUTF8(reflect.ValueOf(&v).Elem(), 0); p != "" {
		panic(fmt.Sprintf("codec: json: cannot encode %T: %s is not valid UTF-8", v, p))
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("codec: json: cannot encode %T: %v", v, err))
	}
	return append(dst, b...)
}

// Decode parses exactly one JSON value (white space around it allowed).
func (JSON[T]) Decode(b []byte) (T, error) {
	var v T
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

// nullable reports whether encoding/json writes some value of t as null.
func nullable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return true
	}
	return false
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// maxDepth bounds invalidUTF8's descent; encoding/json refuses deeper
// pointer cycles on its own.
const maxDepth = 1000

// invalidUTF8 returns where in v a string encoding/json would write is not
// valid UTF-8 ("" if none): a string, an exported field's, a map key's or an
// element's. Values that marshal themselves are theirs to get right.
func invalidUTF8(v reflect.Value, depth int) string {
	if depth > maxDepth || !v.IsValid() {
		return ""
	}
	t := v.Type()
	marshals := func(t reflect.Type) bool { return t.Implements(jsonMarshaler) || t.Implements(textMarshaler) }
	if marshals(t) || (v.CanAddr() && marshals(reflect.PointerTo(t))) {
		return ""
	}
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return fmt.Sprintf("string %q", v.String())
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return invalidUTF8(v.Elem(), depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := t.Field(i); f.IsExported() || f.Anonymous {
				if p := invalidUTF8(v.Field(i), depth+1); p != "" {
					return "field " + f.Name + ": " + p
				}
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if p := invalidUTF8(it.Key(), depth+1); p != "" {
				return "map key " + p
			}
			if p := invalidUTF8(it.Value(), depth+1); p != "" {
				return "map value " + p
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "" // base64
		}
		for i := range v.Len() {
			if p := invalidUTF8(v.Index(i), depth+1); p != "" {
				return fmt.Sprintf("element %d: %s", i, p)
			}
		}
	}
	return ""
}
