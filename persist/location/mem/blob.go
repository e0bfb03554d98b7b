package mem

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

type blobEntry struct {
	value   []byte // never mutated after insertion
	modTime time.Time
}

// blobStore is the state shared by every handle of one named store.
type blobStore struct {
	now func() time.Time
	mu  struct {
		sync.Mutex
		entries map[string]blobEntry
	}
}

func newBlobStore(now func() time.Time) *blobStore {
	s := &blobStore{now: now}
	s.mu.entries = map[string]blobEntry{}
	return s
}

// Blob is a handle to an in-memory blob store.
type Blob struct {
	store *blobStore
	mu    struct {
		sync.Mutex
		closed bool
	}
}

var _ location.Blob = (*Blob)(nil)

// NewBlob returns a handle to a new, private, empty store.
func NewBlob() *Blob { return NewBlobWithClock(time.Now) }

// NewBlobWithClock is NewBlob with the clock that stamps ModTime injected,
// for tests of age-based cleanup.
func NewBlobWithClock(now func() time.Time) *Blob {
	return &Blob{store: newBlobStore(now)}
}

func (b *Blob) check(ctx context.Context, op string) error {
	b.mu.Lock()
	closed := b.mu.closed
	b.mu.Unlock()
	if closed {
		return location.Determinate(op, location.ErrClosed)
	}
	return location.Determinate(op, ctx.Err())
}

// Get implements location.Blob.
func (b *Blob) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := b.check(ctx, "blob get"); err != nil {
		return nil, false, err
	}
	s := b.store
	s.mu.Lock()
	e, ok := s.mu.entries[key]
	s.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	return append([]byte{}, e.value...), true, nil
}

// Exists implements location.Exister.
func (b *Blob) Exists(ctx context.Context, key string) (bool, error) {
	if err := b.check(ctx, "blob exists"); err != nil {
		return false, err
	}
	s := b.store
	s.mu.Lock()
	_, ok := s.mu.entries[key]
	s.mu.Unlock()
	return ok, nil
}

// Set implements location.Blob.
func (b *Blob) Set(ctx context.Context, key string, value []byte) error {
	if err := b.check(ctx, "blob set"); err != nil {
		return err
	}
	e := blobEntry{value: append([]byte{}, value...), modTime: b.store.now()}
	s := b.store
	s.mu.Lock()
	s.mu.entries[key] = e
	s.mu.Unlock()
	return nil
}

// Delete implements location.Blob.
func (b *Blob) Delete(ctx context.Context, key string) (bool, error) {
	if err := b.check(ctx, "blob delete"); err != nil {
		return false, err
	}
	s := b.store
	s.mu.Lock()
	defer s.mu.Unlock()
	_, existed := s.mu.entries[key]
	delete(s.mu.entries, key)
	return existed, nil
}

// List implements location.Blob. It lists a snapshot taken when it starts,
// and calls fn without holding any lock, so fn may use the store.
func (b *Blob) List(ctx context.Context, prefix string, fn func(location.BlobMeta) error) error {
	if err := b.check(ctx, "blob list"); err != nil {
		return err
	}
	s := b.store
	s.mu.Lock()
	var metas []location.BlobMeta
	for k, e := range s.mu.entries {
		if strings.HasPrefix(k, prefix) {
			metas = append(metas, location.BlobMeta{Key: k, Size: int64(len(e.value)), ModTime: e.modTime})
		}
	}
	s.mu.Unlock()
	for _, m := range metas {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// Close implements location.Blob. The store keeps its contents.
func (b *Blob) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.closed = true
	return nil
}
