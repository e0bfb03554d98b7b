package part

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// readerBufferSize is how much of a column chunk the reader buffers at a
// time, enough for any page header it parses at first try. Pages are read
// whole, straight from the part into the page buffer, past this buffer; a
// larger buffer only adds an allocation and a copy of every page.
const readerBufferSize = 16 << 10

// open reads a part's footer and checks everything Decode relies on before
// any page is read: the schema, row counts that add up and stay within
// MaxRows, and column chunks that lie inside the part. Page sizes are
// capped at the part's size, so no header can make the reader allocate
// more than the part itself.
func open(data []byte) (*file.Reader, error) {
	props := parquet.NewReaderProperties(decodeAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = readerBufferSize
	props.MaxCompressedPageSize = int64(len(data))
	props.MaxUncompressedPageSize = int64(len(data))
	rdr, err := file.NewParquetReader(bytes.NewReader(data), file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	md := rdr.MetaData()
	if err := checkSchema(md); err != nil {
		return nil, err
	}
	rows := md.GetNumRows()
	if rows < 0 || rows > MaxRows {
		return nil, fmt.Errorf("%w: %d rows", ErrCorrupt, rows)
	}
	var sum int64
	size := int64(len(data))
	for g := range md.NumRowGroups() {
		rg := md.RowGroup(g)
		n := rg.NumRows()
		if n < 0 || n > MaxRows {
			return nil, fmt.Errorf("%w: row group %d claims %d rows", ErrCorrupt, g, n)
		}
		sum += n
		if rg.NumColumns() != numCols {
			return nil, fmt.Errorf("%w: row group %d has %d columns", ErrCorrupt, g, rg.NumColumns())
		}
		for c := range numCols {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return nil, fmt.Errorf("%w: row group %d column %s: %v", ErrCorrupt, g, colNames[c], err)
			}
			// Encode never compresses; refusing codecs also means every page
			// buffer is filled by a plain copy of the part's bytes.
			if cc.Compression() != compress.Codecs.Uncompressed {
				return nil, fmt.Errorf("%w: row group %d column %s: compressed with %s",
					ErrCorrupt, g, colNames[c], cc.Compression())
			}
			data, length := cc.DataPageOffset(), cc.TotalCompressedSize()
			start := data
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 {
				start = min(start, cc.DictionaryPageOffset())
			}
			if start < 0 || length < 0 || start > size || length > size-start || data >= start+length {
				return nil, fmt.Errorf("%w: row group %d column %s: pages at %d and %d, %d bytes, outside the part's %d bytes",
					ErrCorrupt, g, colNames[c], start, data, length, size)
			}
		}
	}
	if sum != rows {
		return nil, fmt.Errorf("%w: footer claims %d rows, row groups %d", ErrCorrupt, rows, sum)
	}
	return rdr, nil
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
	rdr, err := open(data)
	if err != nil {
		return Stats{}, err
	}
	md := rdr.MetaData()
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
