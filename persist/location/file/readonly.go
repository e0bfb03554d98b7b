package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// OpenReadOnly opens the blob directory dir for reading only: it creates
// nothing, and Set and Delete fail with location.ErrReadOnly, writing
// nothing. A directory that does not exist is an empty store, as it would
// be for a location whose batches are all kept in its state: such a
// location needs no blob directory, and a copy of it may have dropped the
// empty one. (It stays empty: blobs another process writes there after
// the open are not seen.) A path that is not a directory is an error.
func OpenReadOnly(ctx context.Context, dir string) (location.Blob, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: directory %q: %w", dir, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, location.Determinate("blob open", err)
	}
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return readOnly{mem.NewBlob(), root}, nil
	case err != nil:
		return nil, fmt.Errorf("file: open %s: %w", root, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("file: open %s: not a directory", root)
	}
	b, err := openBucket(root, false)
	if err != nil {
		return nil, err
	}
	return readOnlyInto{readOnly{b, root}, b}, nil
}

// readOnly is a Blob that refuses writes.
type readOnly struct {
	location.Blob
	root string
}

// readOnlyInto is a readOnly Blob that reads into the caller's buffers.
type readOnlyInto struct {
	readOnly
	into *Blob
}

var (
	_ location.Exister    = readOnly{}
	_ location.IntoGetter = readOnlyInto{}
)

func (b readOnly) Set(ctx context.Context, key string, _ []byte) error {
	return location.Determinate("blob set", fmt.Errorf("file: %s: set %q: %w", b.root, key, location.ErrReadOnly))
}

func (b readOnly) Delete(ctx context.Context, key string) (bool, error) {
	return false, location.Determinate("blob delete", fmt.Errorf("file: %s: delete %q: %w", b.root, key, location.ErrReadOnly))
}

func (b readOnly) Exists(ctx context.Context, key string) (bool, error) {
	return b.Blob.(location.Exister).Exists(ctx, key)
}

func (b readOnlyInto) GetInto(ctx context.Context, key string, dst []byte) ([]byte, bool, error) {
	return b.into.GetInto(ctx, key, dst)
}
