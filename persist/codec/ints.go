package codec

import "encoding/binary"

// Int64 encodes an int64 in 8 bytes, big-endian with the sign bit flipped,
// so that bytes.Compare on encodings orders them as the numbers: keys
// encoded with it sort numerically.
type Int64 struct{}

// Encode appends the 8-byte encoding of v to dst.
func (Int64) Encode(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^(1<<63))
}

// Decode parses exactly 8 bytes.
func (Int64) Decode(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, &LengthError{Codec: "int64", Want: 8, Got: len(b)}
	}
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)), nil
}

// Uint64 encodes a uint64 in 8 bytes, big-endian, so that bytes.Compare on
// encodings orders them as the numbers.
type Uint64 struct{}

// Encode appends the 8-byte encoding of v to dst.
func (Uint64) Encode(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

// Decode parses exactly 8 bytes.
func (Uint64) Decode(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, &LengthError{Codec: "uint64", Want: 8, Got: len(b)}
	}
	return binary.BigEndian.Uint64(b), nil
}
