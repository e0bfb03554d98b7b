package part

import "unsafe"

// asInt64s views a []uint64 as []int64 (same size and layout), so the time
// column decodes in place.
func asInt64s(s []uint64) []int64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*int64)(unsafe.Pointer(&s[0])), len(s))
}
