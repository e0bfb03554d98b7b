package part

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// footerTail is the length of what ends a part after its footer: the
// footer's length and the magic bytes.
const footerTail = 8

var magic = []byte("PAR1")

// open reads a part's footer and checks everything Decode relies on before
// any page is read: the schema, row counts that add up and stay within
// MaxRows, and uncompressed, unencrypted column chunks that lie before the
// footer. It returns the footer and where it
// begins, which is where the pages end.
func open(data []byte) (md *metadata.FileMetaData, pagesEnd int, err error) {
	size := len(data)
	if size < len(magic)+footerTail || !bytes.Equal(data[:len(magic)], magic) || !bytes.Equal(data[size-len(magic):], magic) {
		return nil, 0, fmt.Errorf("%w: no Parquet magic bytes around %d bytes", ErrCorrupt, size)
	}
	footerLen := uint64(binary.LittleEndian.Uint32(data[size-footerTail:]))
	if footerLen > uint64(size-len(magic)-footerTail) {
		return nil, 0, fmt.Errorf("%w: footer of %d bytes in a part of %d", ErrCorrupt, footerLen, size)
	}
	pagesEnd = size - footerTail - int(footerLen)
	md, err = metadata.NewFileMetaData(data[pagesEnd:size-footerTail], nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: footer: %v", ErrCorrupt, err)
	}
	if md.IsSetEncryptionAlgorithm() {
		return nil, 0, fmt.Errorf("%w: encrypted", ErrCorrupt)
	}
	if err := checkSchema(md); err != nil {
		return nil, 0, err
	}
	rows := md.GetNumRows()
	if rows < 0 || rows > MaxRows {
		return nil, 0, fmt.Errorf("%w: %d rows", ErrCorrupt, rows)
	}
	var sum int64
	for g := range md.NumRowGroups() {
		rg := md.RowGroup(g)
		n := rg.NumRows()
		if n < 0 || n > MaxRows {
			return nil, 0, fmt.Errorf("%w: row group %d claims %d rows", ErrCorrupt, g, n)
		}
		sum += n
		if rg.NumColumns() != numCols {
			return nil, 0, fmt.Errorf("%w: row group %d has %d columns", ErrCorrupt, g, rg.NumColumns())
		}
		for c := range numCols {
			if _, _, err := columnChunk(rg, c, pagesEnd); err != nil {
				return nil, 0, fmt.Errorf("%w: row group %d column %s: %v", ErrCorrupt, g, colNames[c], err)
			}
		}
	}
	if sum != rows {
		return nil, 0, fmt.Errorf("%w: footer claims %d rows, row groups %d", ErrCorrupt, rows, sum)
	}
	return md, pagesEnd, nil
}

// columnChunk returns where the pages of column col of rg lie in the part:
// from its dictionary page, if any, else its first data page, for its total
// compressed size. That must be inside the part before its footer, which
// begins at pagesEnd, and hold the first data page. (A column of no rows
// has its data page offset 0, at the part's magic bytes.)
func columnChunk(rg *metadata.RowGroupMetaData, col, pagesEnd int) (lo, hi int, err error) {
	cc, err := rg.ColumnChunk(col)
	if err != nil {
		return 0, 0, err
	}
	if cc.CryptoMetadata() != nil {
		return 0, 0, errors.New("encrypted")
	}
	// Encode never compresses, so a page's bytes in the part are its values.
	if cc.Compression() != compress.Codecs.Uncompressed {
		return 0, 0, fmt.Errorf("compressed with %s", cc.Compression())
	}
	data, length := cc.DataPageOffset(), cc.TotalCompressedSize()
	start := data
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 {
		start = min(start, cc.DictionaryPageOffset())
	}
	end := int64(pagesEnd)
	if start < 0 || length < 0 || start > end || length > end-start || data >= start+length {
		return 0, 0, fmt.Errorf("pages at %d and %d, %d bytes, outside the part's first %d bytes",
			start, data, length, end)
	}
	return int(start), int(start + length), nil
}

func checkSchema(md *metadata.FileMetaData) error {
	sc := md.Schema
	if sc == nil || sc.NumColumns() != numCols {
		return fmt.Errorf("%w: schema does not have %d columns", ErrCorrupt, numCols)
	}
	want := [numCols]parquet.Type{parquet.Types.ByteArray, parquet.Types.ByteArray, parquet.Types.Int64, parquet.Types.Int64}
	for i := range numCols {
		c := sc.Column(i)
		if c.Name() != colNames[i] || c.PhysicalType() != want[i] || c.MaxDefinitionLevel() != 0 || c.MaxRepetitionLevel() != 0 {
			return fmt.Errorf("%w: column %d is %s %s, want required %s %s",
				ErrCorrupt, i, c.Name(), c.PhysicalType(), colNames[i], want[i])
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
	md, _, err := open(data)
	if err != nil {
		return Stats{}, err
	}
	v := md.KeyValueMetadata().FindValue(statsKey)
	if v == nil {
		return Stats{}, fmt.Errorf("%w: no %s entry in the footer", ErrCorrupt, statsKey)
	}
	if st, err = unmarshalStats(*v); err != nil {
		return Stats{}, err
	}
	if st.Rows != md.GetNumRows() {
		return Stats{}, fmt.Errorf("%w: stats count %d rows, footer %d", ErrCorrupt, st.Rows, md.GetNumRows())
	}
	st.Bytes = int64(len(data))
	return st, nil
}
