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

// retainedBlobBytes bounds the storage of the buffers freeBlobs keeps.
const retainedBlobBytes = 16 << 20

// Released buffers go to freeBlobs, most recent last, while they fit in
// retainedBlobBytes, and to blobBuffers beyond that. A fetch reads on one
// goroutine and its part is released on another (a dataflow worker), and a
// sync.Pool alone served that poorly: it keeps a released buffer on the
// releasing goroutine's P, and drops everything within two collections, so
// a replay starting after a GC read half its parts into fresh buffers, each
// zeroed and faulted in page by page (700 page faults a replay of 64 parts
// instead of 50). freeBlobs survives collections, and hands out the buffer
// released last, whose pages are likeliest to be in a cache.
var freeBlobs struct {
	sync.Mutex
	bufs  []*BlobBuffer
	bytes int
}

var blobBuffers = sync.Pool{New: func() any { return new(BlobBuffer) }}

// GetBlobBuffer returns a released buffer, or a new one.
func GetBlobBuffer() *BlobBuffer {
	f := &freeBlobs
	f.Lock()
	var bb *BlobBuffer
	if n := len(f.bufs); n > 0 {
		bb = f.bufs[n-1]
		f.bufs[n-1] = nil
		f.bufs = f.bufs[:n-1]
		f.bytes -= cap(bb.b)
	}
	f.Unlock()
	if bb == nil {
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
	f := &freeBlobs
	f.Lock()
	if c := cap(bb.b); c > 0 && f.bytes+c <= retainedBlobBytes {
		f.bufs = append(f.bufs, bb)
		f.bytes += c
		f.Unlock()
		return
	}
	f.Unlock()
	blobBuffers.Put(bb)
}

// poisonByte fills released buffers under the invariants build tag.
const poisonByte = 0xdb
