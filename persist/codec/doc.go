// Package codec converts the keys and values of a shard between Go values
// and the bytes persist stores.
//
// A Codec[T] appends the encoding of a T to a buffer (Encode) and parses it
// back (Decode). Decoding treats its input as untrusted: bytes that are not
// a valid encoding give an error wrapping ErrMalformed (a *LengthError or a
// *DecodeError), never a panic. A decoded value never aliases its input, so
// the buffer it came from can be released.
//
// The codecs:
//   - Bytes and String store the bytes as they are.
//   - Int64 and Uint64 store 8 big-endian bytes (Int64 with the sign bit
//     flipped), so encodings sort in numeric order under bytes.Compare and a
//     part's key bounds mean numeric bounds.
//   - JSON[T] uses encoding/json; it ignores unknown fields on decode so
//     values written by a newer T still decode, keeps numbers in an
//     interface exact (json.Number), and refuses strings that are not
//     valid UTF-8, which JSON cannot carry.
//   - Unit stores struct{} as no bytes.
package codec
