package persist

import (
	"bytes"
	"context"
	"fmt"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/part"
	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
)

// FetchedPart is the consolidated rows of one part selected by a read:
// sorted by (key, val), one row per (key, val, time), no zero diffs. Rows
// of one (key, val, time) whose diffs would sum out of the int64 range are
// the exception: they stay several rows, whose diffs sum to theirs. Key and
// Val return slices owned by the FetchedPart; they are invalid after
// Release.
type FetchedPart struct {
	d     *part.Decoded
	idx   []int32 // rows of d kept, in order; nil means every row
	diffs []int64 // consolidated diffs of idx; nil means d's own
	asOf  frontier.Time
	snap  bool          // every row is read at asOf
	max   frontier.Time // no row's Time is greater
}

// Len returns the number of rows.
func (f *FetchedPart) Len() int {
	if f.idx == nil {
		return f.d.Len()
	}
	return len(f.idx)
}

func (f *FetchedPart) row(i int) int {
	if f.idx == nil {
		return i
	}
	return int(f.idx[i])
}

// Key returns the key of row i.
func (f *FetchedPart) Key(i int) []byte { return f.d.Key(f.row(i)) }

// Val returns the value of row i.
func (f *FetchedPart) Val(i int) []byte { return f.d.Val(f.row(i)) }

// Time returns the time of row i.
func (f *FetchedPart) Time(i int) frontier.Time {
	if f.snap {
		return f.asOf
	}
	return f.d.Time(f.row(i))
}

// MaxTime returns a bound no row's Time exceeds (not necessarily any
// row's time), so a caller can tell without a scan that every row is
// before some frontier. It comes from the part's description, whose
// bytes the checksum vouches for, or is the read's asOf for a snapshot.
func (f *FetchedPart) MaxTime() frontier.Time {
	if f.snap {
		return f.asOf
	}
	return f.max
}

// Diff returns the diff of row i.
func (f *FetchedPart) Diff(i int) int64 {
	if f.diffs != nil {
		return f.diffs[i]
	}
	return f.d.Diff(f.row(i))
}

// Release returns the decoded buffers for reuse. Releasing twice is
// harmless.
func (f *FetchedPart) Release() {
	if f.d != nil {
		f.d.Release()
	}
	*f = FetchedPart{}
}

// FetchLeased fetches a part handed out by Snapshot or Listen.
func (c *Client) FetchLeased(ctx context.Context, p LeasedPart) (*FetchedPart, error) {
	return c.Fetch(ctx, p.Shard, p.Desc, p.Filter)
}

// Fetch reads a part's blob, verifies its size and checksum, decodes it and
// keeps the rows the filter selects, consolidated. A missing blob is a
// *BlobMissingError (saying whether filter.ReaderID had expired); bytes that
// do not match the checksum or do not decode are a *BlobCorruptError; a part
// of a format this code does not know is ErrUnknownPartFormat.
func (c *Client) Fetch(ctx context.Context, shard ShardID, p PartDesc, filter FetchFilter) (*FetchedPart, error) {
	if err := checkFetch(p, filter); err != nil {
		return nil, err
	}
	d, err := c.fetchDecoded(ctx, shard, p, filter.ReaderID)
	if err != nil {
		return nil, err
	}
	return filterDecoded(d, p, filter), nil
}

// parallelChecksumBytes is the part size from which Fetch computes the
// checksum beside decoding instead of before it.
const parallelChecksumBytes = 1 << 20

func (c *Client) fetchDecoded(ctx context.Context, shard ShardID, p PartDesc, readerID string) (*part.Decoded, error) {
	buf, data, err := c.readPart(ctx, shard, p, readerID)
	if err != nil {
		return nil, err
	}
	d, err := decodePart(p, data, false)
	holdOrRelease(d, buf, data)
	return d, err
}

// readPart reads the bytes of p and checks their size. The caller owns buf
// (nil when the blob store allocated data): it gives it to the Decoded of
// data with Hold, or back with Release (holdOrRelease).
func (c *Client) readPart(ctx context.Context, shard ShardID, p PartDesc, readerID string) (buf *part.BlobBuffer, data []byte, err error) {
	ok := true
	g, into := c.loc.Blob.(location.IntoGetter)
	switch {
	case state.PartFormat(p.Format) == state.FormatParquetV1Inline:
		// An inline part's bytes belong to the state, shared by every
		// version and reader holding it. A caller may write into a key
		// it was handed, so the Decoded references a copy (small: only
		// small parts are kept inline).
		buf = part.GetBlobBuffer()
		data = append(buf.Storage(), p.Inline...)
	case into:
		buf = part.GetBlobBuffer()
		data, ok, err = g.GetInto(ctx, p.Key, buf.Storage())
	default:
		data, ok, err = c.loc.Blob.Get(ctx, p.Key)
	}
	defer func() {
		if err != nil {
			holdOrRelease(nil, buf, data)
			buf, data = nil, nil
		}
	}()
	if err != nil {
		return nil, nil, fmt.Errorf("persist: fetch %s: %w", p.Key, err)
	}
	if !ok {
		e := &BlobMissingError{Shard: shard, Key: p.Key, ReaderID: readerID}
		if readerID != "" {
			if m, err := c.machine(shard); err != nil {
				e.CheckErr = err
			} else if s, err := m.head(ctx); err != nil {
				e.CheckErr = err
			} else {
				_, present := s.Reader(readerID)
				e.ReaderExpired = !present
			}
		}
		return nil, nil, e
	}
	if int64(len(data)) != p.Bytes {
		return nil, nil, &BlobCorruptError{Key: p.Key, Reason: fmt.Sprintf("size %d, state says %d", len(data), p.Bytes)}
	}
	return buf, data, nil
}

// holdOrRelease gives buf, which data was read into, to d, or back for
// reuse when there is no d. A nil buf (data the blob store allocated) needs
// neither.
func holdOrRelease(d *part.Decoded, buf *part.BlobBuffer, data []byte) {
	switch {
	case buf == nil:
	case d != nil:
		d.Hold(buf, data)
	default:
		buf.Release(data)
	}
}

// checksumError is the error for data that does not match p's checksum, or
// nil.
func checksumError(p PartDesc, sum uint32) error {
	if sum == p.Checksum {
		return nil
	}
	return &BlobCorruptError{Key: p.Key, Reason: fmt.Sprintf("crc32c %08x, state says %08x", sum, p.Checksum)}
}

// decodePart decodes data, the bytes of p, and checks their row count.
// Unless verified (the caller checked the checksum), it checks the checksum
// too: beside decoding for a large part, whose rows are used only if it
// matches, and before decoding otherwise.
func decodePart(p PartDesc, data []byte, verified bool) (d *part.Decoded, err error) {
	var sumErr, derr error
	switch {
	case verified:
		d, derr = part.Decode(data)
	case len(data) >= parallelChecksumBytes:
		done := make(chan struct{})
		go func() {
			defer close(done)
			sumErr = checksumError(p, part.Checksum(data))
		}()
		d, derr = part.Decode(data)
		<-done
	default:
		if sumErr = checksumError(p, part.Checksum(data)); sumErr == nil {
			d, derr = part.Decode(data)
		}
	}
	switch {
	case sumErr != nil:
		err = sumErr
	case derr != nil:
		err = &BlobCorruptError{Key: p.Key, Reason: "decode", Err: derr}
	case int64(d.Len()) != p.Rows:
		err = &BlobCorruptError{Key: p.Key, Reason: fmt.Sprintf("%d rows, state says %d", d.Len(), p.Rows)}
	}
	if err != nil {
		if d != nil {
			d.Release()
		}
		return nil, err
	}
	return d, nil
}

// filterDecoded keeps the rows of d the filter selects and consolidates
// them. Parts are written consolidated and sorted by (key, val, time), so a
// listen read only drops rows and a snapshot read, which moves every kept
// row to asOf, only merges neighbours with equal (key, val): one linear
// pass, no sort.
func filterDecoded(d *part.Decoded, p PartDesc, f FetchFilter) *FetchedPart {
	out := &FetchedPart{d: d, asOf: f.AsOf, snap: f.Mode == SnapshotRead, max: p.MaxTime}
	n := d.Len()
	if f.Mode == ListenRead && p.MinTime > f.AsOf && f.Lower.LessEqual(p.MinTime) {
		return out // every row is beyond asOf and lower
	}
	if f.Mode == SnapshotRead && p.MaxTime <= f.AsOf && (p.MinTime == p.MaxTime || p.DistinctKeyVals || !anyAdjacentEqual(d)) {
		return out // every row kept, and no two rows merge at asOf
	}
	idx := make([]int32, 0, n)
	var diffs []int64 // nil until rows merge: then idx's diffs
	// A snapshot read merges each run of kept rows with one (key, val),
	// idx[group:], once the run ends: into one row if their exact sum
	// fits an int64, whatever the partial sums did on the way, and into
	// rows that each fit otherwise.
	group := 0
	merge := func() {
		if len(idx)-group < 2 {
			return
		}
		if diffs == nil {
			diffs = make([]int64, len(idx), n)
			for j, r := range idx {
				diffs[j] = d.Diff(int(r))
			}
		}
		var sum diffSum
		for _, x := range diffs[group:] {
			sum.add(x)
		}
		if total, ok := sum.value(); ok {
			diffs[group] = total
			idx, diffs = idx[:group+1], diffs[:group+1]
			return
		}
		// The total leaves the int64 range: stretches that each fit.
		k := group
		for j := group + 1; j < len(idx); j++ {
			if s, ok := addDiffs(diffs[k], diffs[j]); ok {
				diffs[k] = s
				continue
			}
			k++
			idx[k], diffs[k] = idx[j], diffs[j]
		}
		idx, diffs = idx[:k+1], diffs[:k+1]
	}
	for i := 0; i < n; i++ {
		if _, keep := f.keep(d.Time(i)); !keep {
			continue
		}
		if f.Mode == SnapshotRead && len(idx) > group {
			first := int(idx[group])
			if !bytes.Equal(d.Key(first), d.Key(i)) || !bytes.Equal(d.Val(first), d.Val(i)) {
				merge()
				group = len(idx)
			}
		}
		idx = append(idx, int32(i))
		if diffs != nil {
			diffs = append(diffs, d.Diff(i))
		}
	}
	if f.Mode == SnapshotRead {
		merge()
	}
	if diffs != nil {
		// Drop rows whose diffs summed to zero.
		k := 0
		for j := range idx {
			if diffs[j] != 0 {
				idx[k], diffs[k] = idx[j], diffs[j]
				k++
			}
		}
		idx, diffs = idx[:k], diffs[:k]
	}
	if len(idx) == n && diffs == nil {
		return out
	}
	out.idx, out.diffs = idx, diffs
	return out
}

// anyAdjacentEqual reports whether two neighbouring rows have the same key
// and value (and so merge when moved to one time).
func anyAdjacentEqual(d *part.Decoded) bool {
	for i := 1; i < d.Len(); i++ {
		if bytes.Equal(d.Key(i-1), d.Key(i)) && bytes.Equal(d.Val(i-1), d.Val(i)) {
			return true
		}
	}
	return false
}
