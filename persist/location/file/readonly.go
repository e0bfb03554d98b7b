package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/shardflow/shardflow/persist/location"
)

// OpenReadOnly opens the blob directory dir for reading only: it creates
// nothing, and Set and Delete fail with location.ErrReadOnly, writing
// nothing. A directory that does not exist, in a parent directory that
// does, reads as an empty store until something creates it, as the next
// writer of a location whose batches were all kept in its state will: such
// a location needs no blob directory, and a copy of it may have dropped the
// empty one. Anything else at the path, or on the way to it, that is no
// directory (a file, a symbolic link to nothing such as an unmounted disk,
// a missing parent) is an error, then or on a later read.
func OpenReadOnly(ctx context.Context, dir string) (location.Blob, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: directory %q: %w", dir, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, location.Determinate("blob open", err)
	}
	ro := &readOnly{root: root}
	exists, err := probe(root)
	if err != nil {
		return nil, err
	}
	if !exists {
		return ro, nil
	}
	b, err := openBucket(root, false)
	if err != nil {
		return nil, err
	}
	ro.b.Store(b)
	return ro, nil
}

// probe reports whether the directory root exists: it does not, yet, if
// nothing is at root and its parent is a directory. Anything else that is
// no directory is an error.
func probe(root string) (exists bool, err error) {
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(root)
		if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
			return false, fmt.Errorf("file: open %s: no such directory, nor its parent %s", root, parent)
		}
		return false, nil
	}
	fi, err := os.Stat(root)
	switch {
	case err != nil:
		return false, fmt.Errorf("file: open %s: %w", root, err)
	case !fi.IsDir():
		return false, fmt.Errorf("file: open %s: not a directory", root)
	}
	return true, nil
}

// readOnly is the Blob OpenReadOnly returns: the directory's Blob, opened
// once the directory exists, with writes refused.
type readOnly struct {
	root   string
	b      atomic.Pointer[Blob] // nil while the directory does not exist
	closed atomic.Bool
	mu     sync.Mutex // held to open b, and to close it
}

var (
	_ location.Exister    = (*readOnly)(nil)
	_ location.IntoGetter = (*readOnly)(nil)
)

// blob returns the directory's Blob, or nil while there is no directory.
func (r *readOnly) blob(ctx context.Context, op string) (*Blob, error) {
	if r.closed.Load() {
		return nil, location.Determinate(op, location.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, location.Determinate(op, err)
	}
	if b := r.b.Load(); b != nil {
		return b, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil, location.Determinate(op, location.ErrClosed)
	}
	if b := r.b.Load(); b != nil {
		return b, nil
	}
	if exists, err := probe(r.root); err != nil || !exists {
		return nil, location.Determinate(op, err)
	}
	b, err := openBucket(r.root, false)
	if err != nil {
		return nil, location.Determinate(op, err)
	}
	r.b.Store(b)
	return b, nil
}

func (r *readOnly) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return r.GetInto(ctx, key, nil)
}

func (r *readOnly) GetInto(ctx context.Context, key string, dst []byte) ([]byte, bool, error) {
	b, err := r.blob(ctx, "blob get")
	if b == nil {
		return nil, false, err
	}
	return b.GetInto(ctx, key, dst)
}

func (r *readOnly) Exists(ctx context.Context, key string) (bool, error) {
	b, err := r.blob(ctx, "blob exists")
	if b == nil {
		return false, err
	}
	return b.Exists(ctx, key)
}

func (r *readOnly) List(ctx context.Context, prefix string, fn func(location.BlobMeta) error) error {
	b, err := r.blob(ctx, "blob list")
	if b == nil {
		return err
	}
	return b.List(ctx, prefix, fn)
}

func (r *readOnly) Set(ctx context.Context, key string, _ []byte) error {
	return location.Determinate("blob set", fmt.Errorf("file: %s: set %q: %w", r.root, key, location.ErrReadOnly))
}

func (r *readOnly) Delete(ctx context.Context, key string) (bool, error) {
	return false, location.Determinate("blob delete", fmt.Errorf("file: %s: delete %q: %w", r.root, key, location.ErrReadOnly))
}

func (r *readOnly) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Swap(true) {
		return nil
	}
	if b := r.b.Load(); b != nil {
		return b.Close()
	}
	return nil
}
