package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/gcblob"
)

// Get implements location.Blob.
func (b *Blob) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return b.GetInto(ctx, key, nil)
}

// GetInto implements location.IntoGetter. A key whose file fileblob names
// without escaping (see plainPath) is read straight from its file: one
// open, one stat and a read into dst. fileblob would also stat the path,
// look for an attributes file and build a reader, which cost a third of a
// part's read. Other keys are read through fileblob.
func (b *Blob) GetInto(ctx context.Context, key string, dst []byte) ([]byte, bool, error) {
	if err := b.checkKey("blob get", key); err != nil {
		return nil, false, err
	}
	path, ok := b.plainPath(key)
	if !ok {
		return b.gc.GetInto(ctx, key, dst)
	}
	const op = "blob get"
	if err := b.gc.Check(ctx, op); err != nil {
		return nil, false, err
	}
	v, ok, err := readFile(path, dst)
	if err != nil {
		return nil, false, location.Determinate(op, fmt.Errorf("file: %s: get %q: %w", b.root, key, err))
	}
	return v, ok, nil
}

// Exists implements location.Exister: a stat of the key's file, not the
// listing of its directory that fileblob would make.
func (b *Blob) Exists(ctx context.Context, key string) (bool, error) {
	if err := b.checkKey("blob exists", key); err != nil {
		return false, err
	}
	path, ok := b.plainPath(key)
	if !ok {
		return b.gc.Exists(ctx, key)
	}
	const op = "blob exists"
	if err := b.gc.Check(ctx, op); err != nil {
		return false, err
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, location.Determinate(op, fmt.Errorf("file: %s: exists %q: %w", b.root, key, err))
	}
	return fi.Mode().IsRegular(), nil
}

// readFile reads the file at path into dst's storage if it has room. A
// missing file, or a directory, is no value.
func readFile(path string, dst []byte) ([]byte, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close() // read only: every byte is in once ReadSized returns
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if fi.IsDir() {
		return nil, false, nil
	}
	v, err := gcblob.ReadSized(f, fi.Size(), dst)
	if err != nil {
		return nil, false, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// plainPath returns the file fileblob keeps key in, when that is simply
// the key below the root: key is one or more segments of ASCII letters,
// digits, '-', '_' and '.', joined by single slashes, none of them "." or
// "..", none but the last ending in ".." (fileblob escapes a slash after
// two dots), with no "__0x" (fileblob's escape marker) and no ".attrs"
// suffix (its attribute files). Every key this module writes is such a
// key.
func (b *Blob) plainPath(key string) (string, bool) {
	// fileblob escapes the slash of a "../", wherever it is.
	if key == "" || strings.Contains(key, "__0x") || strings.HasSuffix(key, attrsSuffix) || strings.Contains(key, "../") {
		return "", false
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
				return "", false
			}
		}
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), true
}
