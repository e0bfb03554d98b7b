package file

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"gocloud.dev/blob/fileblob"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/gcblob"
)

func init() {
	location.RegisterURLCheck("blob", "file", func(u *url.URL) error { _, _, err := parseURL(u); return err })
	location.RegisterBlob("file", func(ctx context.Context, u *url.URL) (location.Blob, error) {
		dir, readOnly, err := parseURL(u)
		if err != nil {
			return nil, location.BadURL(err)
		}
		if readOnly {
			return OpenReadOnly(ctx, dir)
		}
		b, err := Open(ctx, dir)
		if err != nil {
			return nil, err // not a nil *Blob in a non-nil Blob
		}
		return b, nil
	})
}

// ParseURL returns the directory of a file blob URL (see the package
// documentation for its forms).
func ParseURL(u *url.URL) (string, error) {
	dir, _, err := parseURL(u)
	return dir, err
}

// parseURL returns the directory of a file blob URL and whether it says
// mode=ro.
func parseURL(u *url.URL) (dir string, readOnly bool, err error) {
	if u.Scheme != "file" {
		return "", false, fmt.Errorf("file: url %q: scheme is not file", u.Redacted())
	}
	q, err := location.Params(u, "mode")
	if err != nil {
		return "", false, fmt.Errorf("file: url %q: %w", u.Redacted(), err)
	}
	switch m := q.Get("mode"); m {
	case "":
	case "ro":
		readOnly = true
	default:
		return "", false, fmt.Errorf("file: url %q: bad mode %q (the only mode is ro)", u.Redacted(), m)
	}
	if u.Fragment != "" {
		// A '#' in a directory name would silently cut the path short.
		return "", false, fmt.Errorf("file: url %q: fragment not allowed (escape '#' as %%23)", u.Redacted())
	}
	dir, err = location.LocalPath(u)
	if err != nil {
		return "", false, fmt.Errorf("file: %w", err)
	}
	if dir == "" {
		return "", false, fmt.Errorf("file: url %q: no directory", u.Redacted())
	}
	return dir, readOnly, nil
}

// Blob is a durable location.Blob in a directory. It is safe for concurrent
// use.
type Blob struct {
	gc   *gcblob.Blob // not embedded: its SetWith would bypass the syncs
	root string       // absolute, cleaned
	// syncFile and syncDir make a written file and a directory's entries
	// durable; tests replace them to observe the order of events.
	syncFile func(f *os.File) error
	syncDir  func(dir string) error
	mu       struct {
		sync.Mutex
		// durable holds directories below root whose own entry in their
		// parent is known to have been synced.
		durable map[string]bool
	}
}

var (
	_ location.Blob       = (*Blob)(nil)
	_ location.IntoGetter = (*Blob)(nil)
)

// Open opens the blob directory dir, creating it if needed.
func Open(ctx context.Context, dir string) (*Blob, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: directory %q: %w", dir, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, location.Determinate("blob open", err)
	}
	b, err := openBucket(root, true)
	if err != nil {
		return nil, err
	}
	// The root may have just been created: make its entry durable.
	if err := b.syncDir(filepath.Dir(root)); err != nil {
		b.Close()
		return nil, fmt.Errorf("file: open %s: %w", root, err)
	}
	return b, nil
}

// openBucket opens the directory root (absolute), creating it if create.
func openBucket(root string, create bool) (*Blob, error) {
	bucket, err := fileblob.OpenBucket(root, &fileblob.Options{
		CreateDir: create,
		NoTempDir: true,
		Metadata:  fileblob.MetadataDontWrite,
	})
	if err != nil {
		return nil, fmt.Errorf("file: open %s: %w", root, err)
	}
	b := &Blob{
		gc:       gcblob.New(bucket, root),
		root:     root,
		syncFile: (*os.File).Sync,
		syncDir:  syncDirPath,
	}
	b.mu.durable = map[string]bool{}
	return b, nil
}

// checkKey refuses, with ErrInvalidBlobKey, a key whose file fileblob
// would share with another key or put at the root: it cleans the path it
// makes of a key, so a leading slash, a "." segment or a last ".." segment
// names the file of another key ("/x" is "x", "a/./b" is "a/b", "a/b/.."
// is "a"), and "" names none. (fileblob escapes what else a path would
// lose: a second slash, a last one, the slash after "..".)
func (b *Blob) checkKey(op, key string) error {
	aliases := key == "" || key[0] == '/'
	var last string
	for seg := range strings.SplitSeq(key, "/") { // allocates nothing: it is on every read
		aliases = aliases || seg == "."
		last = seg
	}
	if aliases || last == ".." {
		return location.Determinate(op, fmt.Errorf("file: %s: key %q: %w", b.root, key, location.ErrInvalidBlobKey))
	}
	return nil
}

// Delete implements location.Blob. The removal is not synced (see the
// package documentation). A key that names a directory (of other keys) is
// missing, as Get and Exists have it: fileblob would remove the directory,
// or fail on one that is not empty.
func (b *Blob) Delete(ctx context.Context, key string) (bool, error) {
	if err := b.checkKey("blob delete", key); err != nil {
		return false, err
	}
	ok, err := b.Exists(ctx, key)
	if err != nil || !ok {
		return false, err
	}
	return b.gc.Remove(ctx, key) // looked already: a regular file
}

// Close implements location.Blob.
func (b *Blob) Close() error { return b.gc.Close() }

// Dir returns the absolute path of the blob directory.
func (b *Blob) Dir() string { return b.root }

var errNotAFile = errors.New("file: driver did not expose its temporary file")

// Set implements location.Blob: the value is durable when it returns nil.
// A context that ends while the value is written is noticed once it is
// synced, before the rename: the write is then abandoned, determinately.
func (b *Blob) Set(ctx context.Context, key string, value []byte) error {
	const op = "blob set"
	if err := b.checkKey(op, key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return location.Determinate(op, fmt.Errorf("file: %s: set %q: %w", b.root, key, err))
	}
	b.forgetMissing(key)
	var tmp string
	// fileblob's writer looks at its context just before the rename and,
	// if it has ended, removes the temporary file and returns the context's
	// error, which gcblob calls indeterminate, as it must for a driver whose
	// upload a cancel may cut off after it landed. Here nothing lands
	// without the rename: the write runs under a context that does not end,
	// and gives up, determinately, if the caller's has ended once the bytes
	// are synced.
	err := b.gc.SetWith(context.WithoutCancel(ctx), key, value, func(file any) error {
		f, ok := file.(*os.File)
		if !ok {
			return errNotAFile
		}
		tmp = f.Name()
		if err := b.syncFile(f); err != nil {
			return fmt.Errorf("file: sync %s: %w", tmp, err)
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	// The rename happened; make it and any new directories durable.
	if err := b.syncParents(filepath.Dir(tmp)); err != nil {
		return location.Indeterminate(op, fmt.Errorf("file: %s: set %q: %w", b.root, key, err))
	}
	return nil
}

// syncParents syncs dir (making the entries renamed into it durable), then
// walks up to the root syncing the parent of each directory not yet known
// durable, since the write may have created it.
func (b *Blob) syncParents(dir string) error {
	if !strings.HasPrefix(dir, b.root) {
		panic(fmt.Sprintf("file: temporary file in %s, outside the root %s", dir, b.root))
	}
	if err := b.syncDir(dir); err != nil {
		return err
	}
	for dir != b.root {
		b.mu.Lock()
		known := b.mu.durable[dir]
		b.mu.Unlock()
		if known {
			return nil
		}
		parent := filepath.Dir(dir)
		if err := b.syncDir(parent); err != nil {
			return err
		}
		b.mu.Lock()
		b.mu.durable[dir] = true
		b.mu.Unlock()
		dir = parent
	}
	return nil
}

// forgetMissing forgets that the directories the write of key will be
// renamed into, and their parents, were synced, for each that is missing
// now: removed since (from outside this process, say), the write makes it
// anew, and its entry in its parent is not durable yet. A key whose path
// fileblob escapes forgets them all.
func (b *Blob) forgetMissing(key string) {
	path, ok := b.plainPath(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !ok {
		clear(b.mu.durable)
		return
	}
	for dir := filepath.Dir(path); dir != b.root && strings.HasPrefix(dir, b.root); dir = filepath.Dir(dir) {
		if !b.mu.durable[dir] {
			continue
		}
		if _, err := os.Stat(dir); err == nil {
			return // it and its parents stand
		}
		delete(b.mu.durable, dir)
	}
}

func syncDirPath(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("file: sync directory %s: %w", dir, err)
	}
	return d.Close()
}
