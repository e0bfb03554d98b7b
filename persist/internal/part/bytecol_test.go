package part

import (
	"encoding/binary"
	"slices"
	"testing"
)

// naiveSpans parses nv length-prefixed values one after the other.
func naiveSpans(data []byte, off uint64, nv int64) ([]uint64, bool) {
	var out []uint64
	pos := uint64(0)
	for range nv {
		if uint64(len(data))-pos < 4 {
			return nil, false
		}
		l := uint64(binary.LittleEndian.Uint32(data[pos:]))
		if l > uint64(len(data))-pos-4 {
			return nil, false
		}
		out = append(out, span(off+pos+4, off+pos+4+l))
		pos += 4 + l
	}
	return out, true
}

// FuzzAppendSpans checks appendSpans, whose fixed-stride fast path may
// hand over to parsing value by value anywhere, against naiveSpans.
func FuzzAppendSpans(f *testing.F) {
	var fixed, mixed []byte
	for i := range 20 {
		fixed = binary.LittleEndian.AppendUint32(fixed, 3)
		fixed = append(fixed, "abc"...)
		mixed = binary.LittleEndian.AppendUint32(mixed, uint32(i%7/6))
		mixed = append(mixed, make([]byte, i%7/6)...)
	}
	f.Add(fixed, uint32(0), uint16(20))
	f.Add(fixed[:len(fixed)-1], uint32(9), uint16(20))
	f.Add(mixed, uint32(100), uint16(20))
	f.Add(append(fixed, mixed...), uint32(0), uint16(40))
	f.Fuzz(func(t *testing.T, data []byte, off uint32, nv uint16) {
		prefix := []uint64{42}
		got, err := appendSpans(slices.Clone(prefix), data, uint64(off), int64(nv))
		want, ok := naiveSpans(data, uint64(off), int64(nv))
		if ok != (err == nil) || (ok && !slices.Equal(got, append(prefix, want...))) {
			t.Fatalf("appendSpans = %x, %v; want %x, ok %v", got, err, want, ok)
		}
		if !ok && !slices.Equal(got, prefix) {
			t.Fatalf("appendSpans failed but returned %x", got)
		}
	})
}
