package part

import "sync"

// freeList keeps released buffers for reuse, the last released first, up
// to limit bytes in all. A fetch decodes on one goroutine and its part is
// released on another (a dataflow worker), and a sync.Pool alone served
// that poorly: it keeps what is put on the releasing goroutine's P, and
// drops everything within two collections, so a replay starting after a
// GC decoded many parts into fresh buffers, each zeroed and faulted in page
// by page. A freeList survives collections and is shared by every P; what
// does not fit goes to a sync.Pool.
type freeList[T any] struct {
	mu    sync.Mutex
	items []freeItem[T]
	bytes int
	limit int
}

type freeItem[T any] struct {
	v    T
	size int
}

// get returns the value released last, if any.
func (f *freeList[T]) get() (v T, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.items)
	if n == 0 {
		return v, false
	}
	it := f.items[n-1]
	f.items[n-1] = freeItem[T]{}
	f.items = f.items[:n-1]
	f.bytes -= it.size
	return it.v, true
}

// put keeps v, holding size bytes, if it fits; it reports whether it did.
func (f *freeList[T]) put(v T, size int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size <= 0 || f.bytes+size > f.limit {
		return false
	}
	f.items = append(f.items, freeItem[T]{v: v, size: size})
	f.bytes += size
	return true
}
