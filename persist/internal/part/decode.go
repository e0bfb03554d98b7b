package part

import (
	"fmt"
	"math"
	"sync"

	"github.com/shardflow/shardflow/frontier"
)

// Decoded is a decoded part held column by column: times and diffs in flat
// slices, keys and values as spans of the part's own bytes, which the
// Decoded references instead of copying them (unless the part is too large
// for 32-bit spans: then they are copied into one buffer per column).
// Accessors return views without allocating; the views are valid until
// Release. A Decoded is not safe for concurrent Release and use.
//
// Ownership: the bytes given to Decode must stay unmodified and unrecycled
// until Release. If they are in a BlobBuffer, Hold hands the buffer to the
// Decoded, whose Release releases it.
type Decoded struct {
	keys, vals columnBytes
	times      []int64 // frontier.Time bits
	diffs      []int64
	part       []byte // the bytes decoded; nil once released
	copied     bool   // keys and vals are copies, in their own buffers

	blob      *BlobBuffer // holds part, if Hold gave it
	blobValue []byte      // what was read into blob
}

// columnBytes is a byte-array column: value i is base[lo:hi], its span
// spans[i] being hi<<32 | lo. base is the part, or own. A column whose
// values are all one plain page of values of one length (fixed-width keys)
// has no spans: fixed locates them.
type columnBytes struct {
	base  []byte
	spans []uint64
	own   []byte // copies of the values, for a copied Decoded
	fixed fixedRun
}

// fixedRun is n values of width bytes, value i at base[lo+i*stride:].
type fixedRun struct {
	n                 int
	rows              []struct{} // of length n, to bounds-check a row index
	lo, stride, width uint64
}

func span(lo, hi uint64) uint64 { return hi<<32 | lo }

func (c *columnBytes) at(i int) []byte {
	if c.fixed.n == 0 {
		s := c.spans[i]
		return c.base[uint32(s):uint32(s>>32):uint32(s>>32)]
	}
	_ = c.fixed.rows[i] // bounds check
	lo := c.fixed.lo + uint64(i)*c.fixed.stride
	return c.base[lo : lo+c.fixed.width : lo+c.fixed.width]
}

// maxReferenced is the largest part whose values a Decoded references
// rather than copies: spans are 32-bit. Tests lower it.
var maxReferenced = math.MaxUint32

// Len returns the number of rows.
func (d *Decoded) Len() int { return len(d.times) }

// Key returns the key of row i. The slice aliases the part's bytes (or the
// Decoded's buffer): do not modify it or keep it past Release.
func (d *Decoded) Key(i int) []byte { return d.keys.at(i) }

// Val returns the value of row i, aliasing like Key.
func (d *Decoded) Val(i int) []byte { return d.vals.at(i) }

// Time returns the time of row i.
func (d *Decoded) Time(i int) frontier.Time { return frontier.Time(uint64(d.times[i])) }

// Diff returns the diff of row i.
func (d *Decoded) Diff(i int) int64 { return d.diffs[i] }

// Hold gives d the BlobBuffer bb that holds the bytes d was decoded from,
// value being what was read into it (as for BlobBuffer.Release): d's
// Release releases bb, and the caller must not.
func (d *Decoded) Hold(bb *BlobBuffer, value []byte) {
	if d.blob != nil {
		panic("part: Decoded already holds a BlobBuffer")
	}
	d.blob, d.blobValue = bb, value
}

// Release returns the buffers for reuse by a later Decode, and releases
// the BlobBuffer d holds, if any. Every slice obtained from Key or Val is
// invalid afterwards, and the Decoded is empty. Releasing twice is
// harmless.
func (d *Decoded) Release() {
	if d.part == nil {
		return
	}
	if d.blob != nil {
		d.blob.Release(d.blobValue)
	}
	e := &Decoded{
		keys:  columnBytes{spans: d.keys.spans[:0], own: d.keys.own[:0]},
		vals:  columnBytes{spans: d.vals.spans[:0], own: d.vals.own[:0]},
		times: d.times[:0],
		diffs: d.diffs[:0],
	}
	*d = Decoded{}
	size := 8*(cap(e.times)+cap(e.diffs)+cap(e.keys.spans)+cap(e.vals.spans)) + cap(e.keys.own) + cap(e.vals.own)
	if !freeDecoded.put(e, size) {
		decodedPool.Put(e)
	}
}

// Released Decodeds, with their buffers: up to 8 MiB of them in
// freeDecoded, the rest in decodedPool.
var (
	freeDecoded = freeList[*Decoded]{limit: 8 << 20}
	decodedPool sync.Pool
)

// Decode parses a part. Bytes that are not a well-formed part, of whatever
// kind, give an error wrapping ErrCorrupt, never a panic, a hang, or an
// allocation much beyond the part's size and MaxRows. Decode cannot catch
// every corruption, though: Parquet does not checksum its pages, so a
// flipped bit inside a value can decode cleanly to a different value.
// Callers Verify the blob against its recorded checksum first.
func Decode(data []byte) (d *Decoded, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("%w: decoder panicked: %v", ErrCorrupt, r)
		}
	}()
	cr := chunkReaderPool.Get().(*chunkReader)
	defer func() {
		cr.hasDict, cr.dictData = false, nil // drop the alias of the part
		cr.footer.dropAliases()
		chunkReaderPool.Put(cr)
	}()
	f := &cr.footer
	pagesEnd, err := open(data, f)
	if err != nil {
		return nil, err
	}
	rows := f.numRows
	d = newDecoded(f, int(rows), data)
	if err := d.read(pagesEnd, f, cr); err != nil {
		d.Release()
		return nil, err
	}
	if int64(d.Len()) != rows {
		d.Release()
		return nil, fmt.Errorf("%w: footer claims %d rows, row groups hold %d", ErrCorrupt, rows, d.Len())
	}
	return d, nil
}

// newDecoded takes a Decoded of data from the pool. The footer is not
// trusted for sizing: buffers start at no more than the part's own size
// allows and grow as values actually decode.
func newDecoded(f *footer, rows int, data []byte) *Decoded {
	d, ok := freeDecoded.get()
	if !ok {
		d, _ = decodedPool.Get().(*Decoded)
	}
	if d == nil {
		d = &Decoded{}
	}
	d.part, d.copied = data, len(data) > maxReferenced
	hint := min(rows, len(data))
	d.times = grow(d.times, hint)
	d.diffs = grow(d.diffs, hint)
	d.keys.spans = grow(d.keys.spans, hint)
	d.vals.spans = grow(d.vals.spans, hint)
	if d.copied {
		d.keys.own = grow(d.keys.own, chunkBytes(f, colKey, len(data)))
		d.vals.own = grow(d.vals.own, chunkBytes(f, colVal, len(data)))
	}
	return d
}

// chunkBytes estimates the decoded bytes of a byte-array column: its
// uncompressed chunk sizes (exact for plain pages, less the 4-byte length
// prefixes), at most limit.
func chunkBytes(f *footer, col, limit int) int {
	var n int64
	for g := range f.groups {
		n += max(f.groups[g].cols[col].uncompressed, 0)
		if n >= int64(limit) {
			return limit
		}
	}
	return int(n)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, 0, n)
	}
	return s[:0]
}

// read appends the rows of every row group, from the part's bytes up to
// pagesEnd. open has checked that the row groups' counts add up to at most
// MaxRows and that their column chunks lie before pagesEnd.
func (d *Decoded) read(pagesEnd int, f *footer, cr *chunkReader) error {
	for g := range f.groups {
		rg := &f.groups[g]
		for col := range numCols {
			lo, hi, err := columnChunk(rg, col, pagesEnd)
			if err == nil {
				err = d.readColumn(lo, hi, rg.numRows, col, cr)
			}
			if err != nil {
				return fmt.Errorf("%w: row group %d column %s: %v", ErrCorrupt, g, colNames[col], err)
			}
		}
	}
	d.keys.base, d.vals.base = d.part, d.part
	if d.copied {
		d.keys.base, d.vals.base = d.keys.own, d.vals.own
	}
	return nil
}
