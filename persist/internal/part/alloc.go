package part

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// poolAllocator is the memory.Allocator Decode hands the Parquet reader. The
// reader's big buffers (one per column chunk for the raw page, one for the
// uncompressed page, one for the dictionary page) would otherwise be fresh
// garbage on every Decode, which on a busy fetch path costs more in GC than
// the decoding itself. Freed buffers go to a sync.Pool per size class and
// come back zeroed, as a Go allocation would.
//
// Ownership: arrow frees a buffer when the page reader owning it is closed
// (Decode closes each column's page reader once every value of the column
// has been copied out) or when it replaces the buffer by a larger one (a
// page larger than the last, or a second dictionary page, which Decode
// refuses before reading on). Decode copies a data page's values before it
// asks for the next page, and reads the dictionary page only until the
// reader is closed, so nothing it keeps points into a freed buffer. Under
// the invariants build tag freed buffers are poisoned, so that a read after
// free shows up as wrong rows in the tests.
type poolAllocator struct {
	classes [numClasses]sync.Pool // of *[]byte with cap == classSize(i)
}

const (
	// Buffers of at most minPooled/2 bytes are left to the garbage
	// collector: they are cheap, and pooling them costs more than it saves.
	minPooledShift = 12
	minPooled      = 1 << minPooledShift
	// Buffers above maxPooled are too rare to keep around.
	maxPooledShift = 26
	maxPooled      = 1 << maxPooledShift
	// subClasses size classes per power of two: a buffer is at most 1/8
	// larger than asked for.
	subShift   = 3
	subClasses = 1 << subShift
	numClasses = (maxPooledShift - minPooledShift + 1) * subClasses
)

// sizeClass returns the class of a buffer of n bytes and the class's size,
// or -1 if n is not pooled.
func sizeClass(n int) (int, int) {
	if n <= minPooled/2 || n > maxPooled {
		return -1, n
	}
	// 2^(k-1) < n <= 2^k; classes split that range in subClasses steps.
	k := bits.Len(uint(n - 1))
	step := 1 << (k - 1 - subShift)
	j := (n - 1 - 1<<(k-1)) / step // 0 <= j < subClasses
	return (k-minPooledShift)*subClasses + j, 1<<(k-1) + (j+1)*step
}

// Allocate implements memory.Allocator.
func (a *poolAllocator) Allocate(size int) []byte {
	c, capacity := sizeClass(size)
	if c < 0 {
		return make([]byte, size)
	}
	if p, _ := a.classes[c].Get().(*[]byte); p != nil {
		b := (*p)[:size]
		clear(b)
		return b
	}
	return make([]byte, size, capacity)
}

// Reallocate implements memory.Allocator.
func (a *poolAllocator) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		old := len(b)
		b = b[:size]
		if size > old {
			clear(b[old:]) // may hold bytes of an earlier, larger use
		}
		return b
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

// Free implements memory.Allocator. Only buffers this allocator made (whose
// capacity is exactly a class size) are kept.
func (a *poolAllocator) Free(b []byte) {
	c, capacity := sizeClass(cap(b))
	if c < 0 || cap(b) != capacity {
		return
	}
	b = b[:capacity]
	if poisonFreed {
		for i := range b {
			b[i] = poisonByte
		}
	}
	a.classes[c].Put(&b)
}

// poisonByte fills freed buffers under the invariants build tag.
const poisonByte = 0xdb

var _ memory.Allocator = (*poolAllocator)(nil)

// decodeAllocator serves every Decode and ReadStats. Tests swap in a checked
// allocator.
var decodeAllocator memory.Allocator = &poolAllocator{}
