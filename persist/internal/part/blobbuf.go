package part

import "sync"

// BlobBuffer is storage to read a part's blob into and reuse once the part
// is no longer needed: a fetch that allocated a fresh buffer for every blob
// spent much of its time zeroing and collecting them.
//
// Ownership: GetBlobBuffer hands a BlobBuffer to the caller, who reads one
// blob into its Storage. A Decoded references the bytes it was decoded
// from, so the caller either gives the buffer to that Decoded with Hold
// (its Release then releases the buffer) or, with no Decoded, gives it back
// itself with Release, passing the value read (which may be a larger
// buffer the reader allocated instead, and must not be anything else).
// After Release neither the storage nor any slice aliasing it, such as a
// Key or Val of the Decoded, may be used; under the invariants build tag it
// is poisoned.
type BlobBuffer struct {
	b    []byte
	free bool // released and not yet handed out again
}

// maxPooledBlob bounds the storage a BlobBuffer keeps: larger blobs are rare,
// and their decoding dwarfs their allocation.
const maxPooledBlob = 32 << 20

// freeBlobs keeps released buffers of up to 8 MiB in all; the pool takes
// the rest.
var freeBlobs = freeList[*BlobBuffer]{limit: 8 << 20}

var blobBuffers = sync.Pool{New: func() any { return new(BlobBuffer) }}

// GetBlobBuffer returns the buffer released last, or a new one.
func GetBlobBuffer() *BlobBuffer {
	bb, ok := freeBlobs.get()
	if !ok {
		bb = blobBuffers.Get().(*BlobBuffer)
	}
	bb.free = false
	return bb
}

// Storage returns the buffer's storage, of length 0, to read a blob into.
func (bb *BlobBuffer) Storage() []byte { return bb.b[:0] }

// Release gives the buffer back for reuse, keeping value's storage instead
// of its own if value is larger. value is what was read into Storage.
// Releasing a buffer twice panics: two readers would share it.
func (bb *BlobBuffer) Release(value []byte) {
	if bb.free {
		panic("part: BlobBuffer released twice")
	}
	bb.free = true
	if cap(value) > cap(bb.b) {
		bb.b = value[:0]
	}
	if cap(bb.b) > maxPooledBlob {
		bb.b = nil
	}
	if poisonFreed {
		b := bb.b[:cap(bb.b)]
		for i := range b {
			b[i] = poisonByte
		}
	}
	if !freeBlobs.put(bb, cap(bb.b)) {
		blobBuffers.Put(bb)
	}
}

// poisonByte fills released buffers under the invariants build tag.
const poisonByte = 0xdb
