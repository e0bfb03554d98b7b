package part

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// footerTail is the length of what ends a part after its footer: the
// footer's length and the magic bytes.
const footerTail = 8

var magic = []byte("PAR1")

// open reads a part's footer into f and checks everything Decode relies on
// before any page is read: the schema, row counts that add up and stay
// within MaxRows, and uncompressed, unencrypted column chunks of the
// schema's types that lie before the footer. It returns where the footer
// begins, which is where the pages end.
func open(data []byte, f *footer) (pagesEnd int, err error) {
	size := len(data)
	if size < len(magic)+footerTail || !bytes.Equal(data[:len(magic)], magic) || !bytes.Equal(data[size-len(magic):], magic) {
		return 0, fmt.Errorf("%w: no Parquet magic bytes around %d bytes", ErrCorrupt, size)
	}
	footerLen := uint64(binary.LittleEndian.Uint32(data[size-footerTail:]))
	if footerLen > uint64(size-len(magic)-footerTail) {
		return 0, fmt.Errorf("%w: footer of %d bytes in a part of %d", ErrCorrupt, footerLen, size)
	}
	pagesEnd = size - footerTail - int(footerLen)
	if err := readFooter(data[pagesEnd:size-footerTail], f); err != nil {
		return 0, fmt.Errorf("%w: footer: %v", ErrCorrupt, err)
	}
	if f.encrypted {
		return 0, fmt.Errorf("%w: encrypted", ErrCorrupt)
	}
	if err := checkSchema(f); err != nil {
		return 0, err
	}
	rows := f.numRows
	if rows < 0 || rows > MaxRows {
		return 0, fmt.Errorf("%w: %d rows", ErrCorrupt, rows)
	}
	var sum int64
	for g := range f.groups {
		rg := &f.groups[g]
		n := rg.numRows
		if n < 0 || n > MaxRows {
			return 0, fmt.Errorf("%w: row group %d claims %d rows", ErrCorrupt, g, n)
		}
		sum += n
		for c := range numCols {
			if _, _, err := columnChunk(rg, c, pagesEnd); err != nil {
				return 0, fmt.Errorf("%w: row group %d column %s: %v", ErrCorrupt, g, colNames[c], err)
			}
		}
	}
	if sum != rows {
		return 0, fmt.Errorf("%w: footer claims %d rows, row groups %d", ErrCorrupt, rows, sum)
	}
	return pagesEnd, nil
}

// colTypes are the Parquet physical types of the columns, as parquet.thrift
// numbers them.
var colTypes = [numCols]parquet.Type{parquet.Types.ByteArray, parquet.Types.ByteArray, parquet.Types.Int64, parquet.Types.Int64}

// columnChunk returns where the pages of column col of rg lie in the part:
// from its dictionary page, if any, else its first data page, for its total
// compressed size. That must be inside the part before its footer, which
// begins at pagesEnd, and hold the first data page. (A column of no rows
// has its data page offset 0, at the part's magic bytes.) The chunk must
// be of the column's type and hold a value per row.
func columnChunk(rg *rowGroup, col, pagesEnd int) (lo, hi int, err error) {
	cc := &rg.cols[col]
	if cc.encrypted {
		return 0, 0, errors.New("encrypted")
	}
	if !cc.hasMeta {
		return 0, 0, errors.New("column chunk metadata is missing")
	}
	// Encode never compresses, so a page's bytes in the part are its values.
	if codec := compress.Compression(cc.codec); codec != compress.Codecs.Uncompressed {
		return 0, 0, fmt.Errorf("compressed with %s", codec)
	}
	if typ := parquet.Type(cc.typ); typ != colTypes[col] {
		return 0, 0, fmt.Errorf("of type %s", typ)
	}
	if cc.numValues != rg.numRows {
		return 0, 0, fmt.Errorf("%d values in %d rows", cc.numValues, rg.numRows)
	}
	data, length := cc.dataOffset, cc.compressed
	start := data
	if cc.hasDict && cc.dictOffset > 0 {
		start = min(start, cc.dictOffset)
	}
	end := int64(pagesEnd)
	if start < 0 || length < 0 || start > end || length > end-start || data >= start+length {
		return 0, 0, fmt.Errorf("pages at %d and %d, %d bytes, outside the part's first %d bytes",
			start, data, length, end)
	}
	return int(start), int(start + length), nil
}

// checkSchema checks the schema is a root of four children, the required
// leaves key, val, time and diff of colTypes.
func checkSchema(f *footer) error {
	if root := &f.schema[0]; root.childs != numCols {
		return fmt.Errorf("%w: schema root has %d children, want %d", ErrCorrupt, root.childs, numCols)
	}
	for i := range numCols {
		c := &f.schema[i+1]
		if string(c.name) != colNames[i] || parquet.Type(c.typ) != colTypes[i] || c.childs != 0 ||
			parquet.Repetition(c.repetition) != parquet.Repetitions.Required {
			return fmt.Errorf("%w: column %d is %.32q %s (repetition %d, %d children), want required %s %s",
				ErrCorrupt, i, c.name, parquet.Type(c.typ), c.repetition, c.childs, colNames[i], colTypes[i])
		}
	}
	return nil
}

// ReadStats returns the Stats stored in a part's footer, without decoding
// any rows. Bytes is len(data). Bad bytes give an error wrapping ErrCorrupt.
func ReadStats(data []byte) (st Stats, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = Stats{}, fmt.Errorf("%w: footer reader panicked: %v", ErrCorrupt, r)
		}
	}()
	var f footer
	if _, err := open(data, &f); err != nil {
		return Stats{}, err
	}
	if !f.hasStats {
		return Stats{}, fmt.Errorf("%w: no %s entry in the footer", ErrCorrupt, statsKey)
	}
	if st, err = unmarshalStats(string(f.stats)); err != nil {
		return Stats{}, err
	}
	if st.Rows != f.numRows {
		return Stats{}, fmt.Errorf("%w: stats count %d rows, footer %d", ErrCorrupt, st.Rows, f.numRows)
	}
	st.Bytes = int64(len(data))
	return st, nil
}
