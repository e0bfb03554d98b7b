package codec

import (
	"errors"
	"fmt"
)

// Codec turns values of T into bytes and back. Encode appends the encoding of
// v to dst and returns the extended slice, like the append functions of
// strconv. Decode parses what Encode wrote; bytes that are not a valid
// encoding give an error wrapping ErrMalformed, never a panic. The result of
// Decode never aliases b, so b may be reused (or released) afterwards.
type Codec[T any] interface {
	Encode(dst []byte, v T) []byte
	Decode(b []byte) (T, error)
}

// ErrMalformed is wrapped by every decoding error of the codecs here.
var ErrMalformed = errors.New("codec: malformed")

// LengthError reports an input of the wrong length for a fixed-width codec.
type LengthError struct {
	Codec     string
	Want, Got int
}

func (e *LengthError) Error() string {
	return fmt.Sprintf("codec: %s: want %d bytes, got %d", e.Codec, e.Want, e.Got)
}

// Unwrap returns ErrMalformed.
func (e *LengthError) Unwrap() error { return ErrMalformed }

// DecodeError reports an input a codec could not parse, with the cause.
type DecodeError struct {
	Codec string
	Err   error
}

func (e *DecodeError) Error() string { return fmt.Sprintf("codec: %s: %v", e.Codec, e.Err) }

// Unwrap returns ErrMalformed and the cause, so errors.Is matches either.
func (e *DecodeError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// Bytes is the identity codec for []byte. Decode returns a copy (never nil,
// empty for empty input), so the result outlives the buffer it came from.
type Bytes struct{}

// Encode appends v to dst.
func (Bytes) Encode(dst []byte, v []byte) []byte { return append(dst, v...) }

// Decode returns a copy of b.
func (Bytes) Decode(b []byte) ([]byte, error) { return append([]byte{}, b...), nil }

// String encodes a string as its bytes. Any byte sequence decodes: a string
// need not be valid UTF-8, and round-trips either way.
type String struct{}

// Encode appends the bytes of v to dst.
func (String) Encode(dst []byte, v string) []byte { return append(dst, v...) }

// Decode returns b as a string (a copy).
func (String) Decode(b []byte) (string, error) { return string(b), nil }

// Unit encodes struct{} as no bytes, for collections whose values carry no
// information. Decode refuses any byte.
type Unit struct{}

// Encode returns dst unchanged.
func (Unit) Encode(dst []byte, _ struct{}) []byte { return dst }

// Decode accepts only the empty input.
func (Unit) Decode(b []byte) (struct{}, error) {
	if len(b) != 0 {
		return struct{}{}, &LengthError{Codec: "unit", Want: 0, Got: len(b)}
	}
	return struct{}{}, nil
}

var (
	_ Codec[[]byte]   = Bytes{}
	_ Codec[string]   = String{}
	_ Codec[struct{}] = Unit{}
	_ Codec[int64]    = Int64{}
	_ Codec[uint64]   = Uint64{}
	_ Codec[int]      = JSON[int]{}
)
