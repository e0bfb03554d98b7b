package persist

import (
	"context"
	"errors"
	"fmt"

	"github.com/shardflow/shardflow/persist/internal/part"
	"github.com/shardflow/shardflow/persist/internal/state"
)

// EncodedPart is a part's blob as read, not yet verified or decoded: Fetch
// in two halves, so that a caller can do the I/O on goroutines of its own
// and the CPU work where it belongs. FetchEncoded reads the blob and checks
// its size; Decode checks its checksum, decodes it and keeps the rows the
// filter selects. An EncodedPart holds a buffer the size of the blob: Decode
// hands it to the FetchedPart, and Release gives it back if Decode is never
// called. It is not safe for concurrent use.
type EncodedPart struct {
	desc   PartDesc
	filter FetchFilter
	buf    *part.BlobBuffer // nil when the blob store allocated data
	data   []byte
	done   bool // decoded or released
}

// ErrPartConsumed is returned by Decode on an EncodedPart already decoded or
// released.
var ErrPartConsumed = errors.New("persist: encoded part already decoded or released")

// FetchEncodedLeased is FetchEncoded for a part handed out by Snapshot or
// Listen.
func (c *Client) FetchEncodedLeased(ctx context.Context, p LeasedPart) (*EncodedPart, error) {
	return c.FetchEncoded(ctx, p.Shard, p.Desc, p.Filter)
}

// FetchEncoded reads a part's blob and checks its size, with the errors of
// Fetch: a missing blob is a *BlobMissingError, bytes of the wrong size are
// a *BlobCorruptError, an unknown format is ErrUnknownPartFormat.
func (c *Client) FetchEncoded(ctx context.Context, shard ShardID, p PartDesc, filter FetchFilter) (*EncodedPart, error) {
	if err := checkFetch(p, filter); err != nil {
		return nil, err
	}
	buf, data, err := c.readPart(ctx, shard, p, filter.ReaderID)
	if err != nil {
		return nil, err
	}
	return &EncodedPart{desc: p, filter: filter, buf: buf, data: data}, nil
}

// checkFetch refuses what no fetch of p with filter can read.
func checkFetch(p PartDesc, filter FetchFilter) error {
	if !state.PartFormat(p.Format).Known() {
		return fmt.Errorf("%w: part %s has format %d", ErrUnknownPartFormat, p.Key, p.Format)
	}
	if filter.Mode != SnapshotRead && filter.Mode != ListenRead {
		return fmt.Errorf("persist: fetch %s: filter has no read mode", p.Key)
	}
	return nil
}

// Decode verifies and decodes the part and keeps the rows its read selects,
// as Fetch does. Bytes that do not match the checksum, do not decode, or
// hold another number of rows than the part's description says, are a
// *BlobCorruptError.
// Decode consumes e: the FetchedPart now holds its buffer, and so on error
// it is given back.
func (e *EncodedPart) Decode() (*FetchedPart, error) {
	if e.done {
		return nil, ErrPartConsumed
	}
	e.done = true
	d, err := decodePart(e.desc, e.data, false)
	holdOrRelease(d, e.buf, e.data)
	e.buf, e.data = nil, nil
	if err != nil {
		return nil, err
	}
	return filterDecoded(d, e.desc, e.filter), nil
}

// Release gives the buffer back without decoding. Releasing a decoded or
// released part is harmless.
func (e *EncodedPart) Release() {
	if e.done {
		return
	}
	e.done = true
	holdOrRelease(nil, e.buf, e.data)
	e.buf, e.data = nil, nil
}
