package part

import (
	"fmt"
	"sync"

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
	md, pagesEnd, err := open(data)
	if err != nil {
		return nil, err
	}
	rows := md.GetNumRows()
	d = newDecoded(md, int(rows), len(data))
	if err := d.read(data[:pagesEnd], md); err != nil {
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

// read appends the rows of every row group from pages, the part up to its
// footer. open has checked that the row groups' counts add up to at most
// MaxRows and that their column chunks lie within pages.
func (d *Decoded) read(pages []byte, md *metadata.FileMetaData) error {
	cr := chunkReaderPool.Get().(*chunkReader)
	defer func() {
		cr.hasDict, cr.dictData = false, nil // drop the alias of the part
		chunkReaderPool.Put(cr)
	}()
	for g := range md.NumRowGroups() {
		rg := md.RowGroup(g)
		for col := range numCols {
			lo, hi, err := columnChunk(rg, col, len(pages))
			if err == nil {
				err = d.readColumn(pages[lo:hi], rg.NumRows(), col, cr)
			}
			if err != nil {
				return fmt.Errorf("%w: row group %d column %s: %v", ErrCorrupt, g, colNames[col], err)
			}
		}
	}
	return nil
}
