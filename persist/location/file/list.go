package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shardflow/shardflow/persist/location"
)

// List implements location.Blob. It walks the directory itself rather than
// through fileblob, whose walk fails the whole listing when an entry it
// has read goes away before it stats it (a writer's temporary file renamed
// into place, a blob another process deletes) and skips a directory it
// cannot read without a word. Here an entry that has gone is not listed,
// any other failure to read the tree fails the listing, and fn is called
// as the walk goes, so List holds no more than one directory's entries.
func (b *Blob) List(ctx context.Context, prefix string, fn func(location.BlobMeta) error) error {
	const op = "blob list"
	if err := b.gc.Check(ctx, op); err != nil {
		return err
	}
	err := filepath.WalkDir(b.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone since its directory was read, or no such prefix
			}
			return err
		}
		if path == b.root {
			return nil
		}
		rel, err := filepath.Rel(b.root, path)
		if err != nil {
			return err
		}
		key := unescapeKey(filepath.ToSlash(rel))
		if d.IsDir() {
			if err := ctx.Err(); err != nil {
				return err
			}
			// Descend only where keys with the prefix can be. (The walk
			// starts at the root even so: a key ending in a slash is a
			// file beside its "directory", "a/" in "a__0x2f__".)
			dirKey := key + "/"
			if !strings.HasPrefix(dirKey, prefix) && !strings.HasPrefix(prefix, dirKey) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) || strings.HasSuffix(path, attrsSuffix) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(location.BlobMeta{Key: key, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
			return callerError{err}
		}
		return nil
	})
	if ce, ok := err.(callerError); ok {
		return ce.err
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return location.Determinate(op, err)
		}
		return location.Determinate(op, fmt.Errorf("file: %s: list %q: %w", b.root, prefix, err))
	}
	return nil
}

// attrsSuffix ends the attribute sidecars an older fileblob writer left.
const attrsSuffix = ".attrs"

// callerError carries fn's error out of the walk untouched.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// unescapeKey returns the key fileblob stores in the file at rel (slash
// separated, below the root): fileblob writes each rune it must escape
// as "__0x<hex>__" (a slash after "..", a second slash, a trailing slash,
// control characters, its own marker), and reads any such sequence back
// as the rune.
func unescapeKey(rel string) string {
	if !strings.Contains(rel, "__0x") {
		return rel
	}
	var out strings.Builder
	for i := 0; i < len(rel); {
		if r, n, ok := escapedRune(rel[i:]); ok {
			out.WriteRune(r)
			i += n
			continue
		}
		out.WriteByte(rel[i])
		i++
	}
	return out.String()
}

// escapedRune parses an escape sequence "__0x<hex>__" at the start of s,
// returning its rune and length: the hex digits run to the next '_' and
// must parse as a 32-bit integer, as fileblob reads them.
func escapedRune(s string) (rune, int, bool) {
	if !strings.HasPrefix(s, "__0x") {
		return 0, 0, false
	}
	end := strings.IndexByte(s[4:], '_')
	if end < 0 || !strings.HasPrefix(s[4+end:], "__") {
		return 0, 0, false
	}
	v, err := strconv.ParseInt(s[4:4+end], 16, 32)
	if err != nil {
		return 0, 0, false
	}
	return rune(v), 4 + end + 2, true
}
