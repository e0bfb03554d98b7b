package codec

import (
	"encoding/json"
	"fmt"
)

// JSON encodes values of T with encoding/json. Struct fields are encoded in
// declaration order and map keys sorted, so equal values encode to equal
// bytes; the byte order of encodings is not the order of the values.
//
// Decode ignores object fields T does not have, so data written by a newer T
// with more fields still decodes. Encode panics if v cannot be represented in
// JSON (a channel, a function, a NaN): the codec was given a type it cannot
// serve, which no retry would fix.
type JSON[T any] struct{}

// Encode appends the JSON encoding of v to dst.
func (JSON[T]) Encode(dst []byte, v T) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("codec: json: cannot encode %T: %v", v, err))
	}
	return append(dst, b...)
}

// Decode parses exactly one JSON value (white space around it allowed).
func (JSON[T]) Decode(b []byte) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		var zero T
		return zero, &DecodeError{Codec: "json", Err: err}
	}
	return v, nil
}
