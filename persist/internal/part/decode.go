package part

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/shardflow/shardflow/frontier"
)

// Decoded is a decoded part held column by column: all keys in one buffer,
// all values in another, times and diffs in flat slices. Accessors return
// views into those buffers without allocating; the views are valid until
// Release. A Decoded is not safe for concurrent Release and use.
type Decoded struct {
	keys, vals columnBytes
	times      []int64 // frontier.Time bits
	diffs      []int64
}

// columnBytes is a byte-array column: value i is data[offs[i]:offs[i+1]].
type columnBytes struct {
	data []byte
	offs []uint32
}

func (c *columnBytes) at(i int) []byte {
	lo, hi := c.offs[i], c.offs[i+1]
	return c.data[lo:hi:hi]
}

// Len returns the number of rows.
func (d *Decoded) Len() int { return len(d.times) }

// Key returns the key of row i. The slice aliases the Decoded's buffer: do
// not modify it or keep it past Release.
func (d *Decoded) Key(i int) []byte { return d.keys.at(i) }

// Val returns the value of row i, aliasing like Key.
func (d *Decoded) Val(i int) []byte { return d.vals.at(i) }

// Time returns the time of row i.
func (d *Decoded) Time(i int) frontier.Time { return frontier.Time(uint64(d.times[i])) }

// Diff returns the diff of row i.
func (d *Decoded) Diff(i int) int64 { return d.diffs[i] }

// Release returns the buffers for reuse by a later Decode. Every slice
// obtained from Key or Val is invalid afterwards, and the Decoded is empty.
// Releasing twice is harmless.
func (d *Decoded) Release() {
	if d.keys.offs == nil {
		return
	}
	decodedPool.Put(&Decoded{
		keys:  columnBytes{data: d.keys.data[:0], offs: d.keys.offs[:0]},
		vals:  columnBytes{data: d.vals.data[:0], offs: d.vals.offs[:0]},
		times: d.times[:0],
		diffs: d.diffs[:0],
	})
	*d = Decoded{}
}

var decodedPool sync.Pool // of *Decoded with empty, reusable buffers

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
	rdr, err := open(data)
	if err != nil {
		return nil, err
	}
	rows := rdr.MetaData().GetNumRows()
	d = newDecoded(rdr.MetaData(), int(rows), len(data))
	if err := d.read(rdr); err != nil {
		d.Release()
		return nil, err
	}
	if int64(d.Len()) != rows {
		d.Release()
		return nil, fmt.Errorf("%w: footer claims %d rows, row groups hold %d", ErrCorrupt, rows, d.Len())
	}
	return d, nil
}

// newDecoded takes a Decoded from the pool. The footer is not trusted for
// sizing: buffers start at no more than the part's own size allows and grow
// as values actually decode.
func newDecoded(md *metadata.FileMetaData, rows, size int) *Decoded {
	d, _ := decodedPool.Get().(*Decoded)
	if d == nil {
		d = &Decoded{}
	}
	hint := min(rows, size)
	d.times = grow(d.times, hint)
	d.diffs = grow(d.diffs, hint)
	d.keys.offs = append(grow(d.keys.offs, hint+1), 0)
	d.vals.offs = append(grow(d.vals.offs, hint+1), 0)
	d.keys.data = grow(d.keys.data, chunkBytes(md, colKey, size))
	d.vals.data = grow(d.vals.data, chunkBytes(md, colVal, size))
	return d
}

// chunkBytes estimates the decoded bytes of a byte-array column: its
// uncompressed chunk sizes (exact for plain pages, less the 4-byte length
// prefixes), at most limit.
func chunkBytes(md *metadata.FileMetaData, col, limit int) int {
	var n int64
	for g := range md.NumRowGroups() {
		if cc, err := md.RowGroup(g).ColumnChunk(col); err == nil {
			n += max(cc.TotalUncompressedSize(), 0)
		}
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

// byteArrays is the scratch readBytes decodes a batch of values into.
type byteArrays [batchRows]parquet.ByteArray

var scratchPool = sync.Pool{New: func() any { return new(byteArrays) }}

// read appends the rows of every row group. Decode has checked that the
// row groups' counts add up to at most MaxRows.
func (d *Decoded) read(rdr *file.Reader) error {
	scratch := scratchPool.Get().(*byteArrays)
	defer func() {
		clear(scratch[:]) // drop the pointers into page buffers
		scratchPool.Put(scratch)
	}()
	for g := range rdr.NumRowGroups() {
		rg := rdr.RowGroup(g)
		for col := range numCols {
			if err := d.readColumn(rg, col, scratch[:]); err != nil {
				return fmt.Errorf("%w: row group %d column %s: %v", ErrCorrupt, g, colNames[col], err)
			}
		}
	}
	return nil
}

// readColumn appends the values of one column of a row group. Whatever
// happens, it closes the column's reader, which gives the page buffers back
// to decodeAllocator: by then every value has been copied out, or the part
// is refused.
func (d *Decoded) readColumn(rg *file.RowGroupReader, col int, scratch []parquet.ByteArray) (err error) {
	cr, err := rg.Column(col)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cr.Close(); err == nil {
			err = cerr
		}
	}()
	n := rg.NumRows()
	switch col {
	case colKey:
		return readBytes(cr, n, &d.keys, scratch)
	case colVal:
		return readBytes(cr, n, &d.vals, scratch)
	case colTime:
		d.times, err = readInt64s(cr, n, d.times)
	case colDiff:
		d.diffs, err = readInt64s(cr, n, d.diffs)
	}
	return err
}

// readBytes appends n values of a byte-array column to c, copying each page's
// values out before the next page replaces them. Like readInt64s it reads a
// page at a time and refuses a read that makes no progress.
func readBytes(cr file.ColumnChunkReader, n int64, c *columnBytes, scratch []parquet.ByteArray) error {
	r, ok := cr.(*file.ByteArrayColumnChunkReader)
	if !ok {
		return fmt.Errorf("unexpected reader %T", cr)
	}
	for n > 0 {
		got, _, err := r.ReadBatchInPage(min(n, int64(len(scratch))), scratch, nil, nil)
		if err != nil {
			return err
		}
		if got <= 0 {
			return fmt.Errorf("%d values missing", n)
		}
		vals := scratch[:got]
		total := len(c.data)
		for _, v := range vals {
			total += len(v)
		}
		if total > math.MaxUint32 {
			return fmt.Errorf("column exceeds %d bytes", uint64(math.MaxUint32))
		}
		data := slices.Grow(c.data, total-len(c.data))
		offs := slices.Grow(c.offs, len(vals))
		for _, v := range vals {
			data = append(data, v...)
			offs = append(offs, uint32(len(data)))
		}
		c.data, c.offs = data, offs
		n -= got
	}
	return nil
}

// readInt64s appends n values of an int64 column to dst.
func readInt64s(cr file.ColumnChunkReader, n int64, dst []int64) ([]int64, error) {
	r, ok := cr.(*file.Int64ColumnChunkReader)
	if !ok {
		return dst, fmt.Errorf("unexpected reader %T", cr)
	}
	for n > 0 {
		// Grow by what is still missing, but at most double: the count
		// comes from the footer, which may lie.
		k := int(min(n, int64(max(cap(dst)-len(dst), len(dst), batchRows))))
		dst = slices.Grow(dst, k)
		// One page at a time, refusing a read that makes no progress: a
		// malformed page can promise values its decoder never yields, and
		// the multi-page ReadBatch would wait for them forever.
		got, _, err := r.ReadBatchInPage(int64(k), dst[len(dst):len(dst)+k], nil, nil)
		if err != nil {
			return dst, err
		}
		if got <= 0 {
			return dst, fmt.Errorf("%d values missing", n)
		}
		dst = dst[:len(dst)+int(got)]
		n -= got
	}
	return dst, nil
}
