package gcblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/shardflow/shardflow/persist/location"
)

// Blob is a location.Blob over a gocloud bucket. It is safe for concurrent
// use.
type Blob struct {
	bucket *blob.Bucket
	name   string // for error messages: the URL or directory
	mu     struct {
		sync.Mutex
		closed bool
	}
}

var (
	_ location.Blob       = (*Blob)(nil)
	_ location.IntoGetter = (*Blob)(nil)
)

// New wraps bucket, which the Blob then owns and closes on Close. name
// identifies the bucket in error messages.
func New(bucket *blob.Bucket, name string) *Blob {
	return &Blob{bucket: bucket, name: name}
}

// Open opens a bucket by its gocloud URL (its driver must be linked in) and
// wraps it.
func Open(ctx context.Context, rawURL string) (*Blob, error) {
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("gcblob: open %s: %w", rawURL, err)
	}
	return New(b, rawURL), nil
}

// Bucket returns the wrapped bucket.
func (b *Blob) Bucket() *blob.Bucket { return b.bucket }

// Check returns a determinate error if the Blob is closed or ctx has ended:
// the common preamble of every operation, also for a wrapper that does an
// operation without the bucket.
func (b *Blob) Check(ctx context.Context, op string) error {
	b.mu.Lock()
	closed := b.mu.closed
	b.mu.Unlock()
	if closed {
		return location.Determinate(op, location.ErrClosed)
	}
	return location.Determinate(op, ctx.Err())
}

// wrap prefixes err with the package and bucket name.
func (b *Blob) wrap(what, key string, err error) error {
	return fmt.Errorf("gcblob: %s: %s %q: %w", b.name, what, key, err)
}

// Get implements location.Blob.
func (b *Blob) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return b.GetInto(ctx, key, nil)
}

// GetInto implements location.IntoGetter: Get reading the value into dst's
// storage when it fits (cap(dst) >= its size), and else into a new slice.
func (b *Blob) GetInto(ctx context.Context, key string, dst []byte) ([]byte, bool, error) {
	const op = "blob get"
	if err := b.Check(ctx, op); err != nil {
		return nil, false, err
	}
	v, err := b.readAll(ctx, key, dst)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, location.Determinate(op, b.wrap("get", key, err))
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// readAll is Bucket.ReadAll reading into a buffer of the size the reader
// announces, instead of growing one by doubling from 512 bytes (which for a
// part of some hundred KB allocates and copies about twice its size). The
// announced size is the store's, taken when the reader opened: fewer bytes
// than that is a read cut short (an HTTP body whose connection ended before
// its Content-Length reads as an early end), and fails, rather than
// passing for a shorter value.
func (b *Blob) readAll(ctx context.Context, key string, dst []byte) ([]byte, error) {
	r, err := b.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }() // as Bucket.ReadAll: every byte is in
	v, err := ReadSized(r, r.Size(), dst)
	if err == nil && int64(len(v)) < r.Size() {
		return nil, fmt.Errorf("read %d of the %d bytes the store announced: %w", len(v), r.Size(), io.ErrUnexpectedEOF)
	}
	return v, err
}

// ReadSized reads r to EOF into a buffer of size bytes, the size r is
// expected to have: dst's storage if it has room, else a new one. The
// size only sizes the buffer: the bytes returned are those r yields up to
// EOF, whether fewer or more.
func ReadSized(r io.Reader, size int64, dst []byte) ([]byte, error) {
	if size <= 0 || size > maxSizedRead {
		return io.ReadAll(r)
	}
	buf := dst[:0]
	if int64(cap(buf)) >= size {
		buf = buf[:size]
	} else {
		buf = make([]byte, size)
	}
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return buf[:n], nil // shorter than announced
	case err != nil:
		return nil, err
	}
	// Confirm the end; a blob longer than announced is read on.
	var one [1]byte
	if _, err := io.ReadFull(r, one[:]); errors.Is(err, io.EOF) {
		return buf, nil
	} else if err != nil {
		return nil, err
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return append(append(buf, one[0]), rest...), nil
}

// maxSizedRead bounds the buffer readAll allocates on the reader's word
// alone; larger blobs are read by growing a buffer as bytes arrive.
const maxSizedRead = 1 << 30

// Set implements location.Blob.
func (b *Blob) Set(ctx context.Context, key string, value []byte) error {
	return b.SetWith(ctx, key, value, nil)
}

// SetWith is Set with a hook: beforeClose, if not nil, runs after every byte
// was handed to the driver and before the writer is closed (when the value
// becomes visible); file is the driver's *os.File when the driver is
// fileblob (else nil). An error from beforeClose abandons the write,
// determinately.
func (b *Blob) SetWith(ctx context.Context, key string, value []byte, beforeClose func(file any) error) error {
	const op = "blob set"
	if err := b.Check(ctx, op); err != nil {
		return err
	}
	var driverFile any
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.bucket.NewWriter(wctx, key, &blob.WriterOptions{
		ContentType: "application/octet-stream",
		BeforeWrite: func(as func(any) bool) error {
			driverFile = fileOf(as)
			return nil
		},
	})
	if err != nil {
		return ClassifyWrite(op, b.wrap("set", key, err))
	}
	if _, err := w.Write(value); err != nil {
		cancel() // abandons the write
		w.Close()
		return ClassifyWrite(op, b.wrap("set", key, err))
	}
	if beforeClose != nil {
		if err := beforeClose(driverFile); err != nil {
			cancel()
			w.Close()
			return location.Determinate(op, b.wrap("set", key, err))
		}
	}
	if err := w.Close(); err != nil {
		return ClassifyWrite(op, b.wrap("set", key, err))
	}
	return nil
}

// Delete implements location.Blob. It looks first: a look that fails
// certainly deleted nothing, where the same failure inside bucket.Delete
// (s3blob sends a HEAD before its DELETE) could not be told from a DELETE
// cut off in flight, and would say the delete may have happened.
func (b *Blob) Delete(ctx context.Context, key string) (bool, error) {
	const op = "blob delete"
	if err := b.Check(ctx, op); err != nil {
		return false, err
	}
	ok, err := b.bucket.Exists(ctx, key)
	if err != nil {
		return false, location.Determinate(op, b.wrap("delete", key, err))
	}
	if !ok {
		return false, nil
	}
	return b.Remove(ctx, key)
}

// Remove is Delete without the look first, for a wrapper that has just
// looked itself.
func (b *Blob) Remove(ctx context.Context, key string) (bool, error) {
	const op = "blob delete"
	if err := b.Check(ctx, op); err != nil {
		return false, err
	}
	err := b.bucket.Delete(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return false, nil
	}
	if err != nil {
		return false, ClassifyWrite(op, b.wrap("delete", key, err))
	}
	return true, nil
}

// Exists implements location.Exister.
func (b *Blob) Exists(ctx context.Context, key string) (bool, error) {
	const op = "blob exists"
	if err := b.Check(ctx, op); err != nil {
		return false, err
	}
	ok, err := b.bucket.Exists(ctx, key)
	if err != nil {
		return false, location.Determinate(op, b.wrap("exists", key, err))
	}
	return ok, nil
}

// List implements location.Blob.
func (b *Blob) List(ctx context.Context, prefix string, fn func(location.BlobMeta) error) error {
	const op = "blob list"
	if err := b.Check(ctx, op); err != nil {
		return err
	}
	opts := &blob.ListOptions{Prefix: prefix}
	it := b.bucket.List(opts)
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return location.Determinate(op, b.wrap("list", prefix, err))
		}
		if obj.IsDir {
			continue
		}
		if err := fn(location.BlobMeta{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime}); err != nil {
			return err
		}
	}
}

// Close implements location.Blob.
func (b *Blob) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.closed {
		return nil
	}
	b.mu.closed = true
	if err := b.bucket.Close(); err != nil {
		return fmt.Errorf("gcblob: close %s: %w", b.name, err)
	}
	return nil
}

// ClassifyWrite wraps the failure of a write (Set, Delete) as determinate
// when its gocloud code says the request was refused, else indeterminate.
func ClassifyWrite(op string, err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.InvalidArgument, gcerrors.PermissionDenied, gcerrors.FailedPrecondition,
		gcerrors.NotFound, gcerrors.Unimplemented:
		return location.Determinate(op, err)
	}
	return location.Indeterminate(op, err)
}
