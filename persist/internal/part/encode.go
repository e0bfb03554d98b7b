package part

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// Column order of every part. Decode checks the schema against it.
const (
	colKey = iota
	colVal
	colTime
	colDiff
	numCols
)

var colNames = [numCols]string{"key", "val", "time", "diff"}

// newPartSchema builds the Parquet schema of a part: four required columns,
// time as an unsigned 64-bit integer so Parquet's own statistics order it
// correctly. Each Encode builds its own: schema nodes cache their column paths
// lazily, so one shared schema is a data race between concurrent writers.
func newPartSchema() *schema.GroupNode {
	timeNode, err := schema.NewPrimitiveNodeLogical(colNames[colTime], parquet.Repetitions.Required,
		schema.NewIntLogicalType(64, false), parquet.Types.Int64, 0, -1)
	if err != nil {
		panic(err)
	}
	root, err := schema.NewGroupNode("part", parquet.Repetitions.Required, schema.FieldList{
		schema.NewByteArrayNode(colNames[colKey], parquet.Repetitions.Required, -1),
		schema.NewByteArrayNode(colNames[colVal], parquet.Repetitions.Required, -1),
		timeNode,
		schema.NewInt64Node(colNames[colDiff], parquet.Repetitions.Required, -1),
	}, -1)
	if err != nil {
		panic(err)
	}
	return root
}

// writerProps are fixed so that the same updates always encode to the same
// bytes: uncompressed, dictionary on (falling back to plain per column chunk
// when the dictionary grows past its limit), one row group, a constant
// created_by. Parquet's own statistics are kept for time and diff only; keys
// and values are summarized by the stats entry in the footer.
var writerProps = parquet.NewWriterProperties(
	parquet.WithCompression(compress.Codecs.Uncompressed),
	parquet.WithDictionaryDefault(true),
	parquet.WithCreatedBy("shardflow part v1"),
	parquet.WithMaxRowGroupLength(MaxRows),
	parquet.WithStatsFor(colNames[colKey], false),
	parquet.WithStatsFor(colNames[colVal], false),
)

// batchRows is how many rows are handed to a column writer at a time.
const batchRows = 4096

// Encode writes updates, in the given order, as one part and returns its
// bytes and Stats (Bytes is len of the returned slice). The same updates
// always give the same bytes. It returns an error wrapping ErrTooLarge for
// more than MaxRows updates or more than 4 GiB of keys or of values.
func Encode(updates []Update) ([]byte, Stats, error) {
	return encode(updates, marshalWidths(widthOf(updates, colKey), widthOf(updates, colVal)))
}

// encode is Encode with the widths entry's value given (none if empty), so
// that tests can write parts as a writer without the hint, or a lying one,
// would.
func encode(updates []Update, widths string) ([]byte, Stats, error) {
	if len(updates) > MaxRows {
		return nil, Stats{}, fmt.Errorf("%w: %d rows, at most %d", ErrTooLarge, len(updates), MaxRows)
	}
	var keyBytes, valBytes int64
	for i := range updates {
		keyBytes += int64(len(updates[i].Key))
		valBytes += int64(len(updates[i].Val))
	}
	if keyBytes > maxColumnBytes || valBytes > maxColumnBytes {
		return nil, Stats{}, fmt.Errorf("%w: %d key bytes and %d value bytes, at most %d each",
			ErrTooLarge, keyBytes, valBytes, int64(maxColumnBytes))
	}
	st := computeStats(updates)

	var buf bytes.Buffer
	buf.Grow(int(keyBytes+valBytes) + len(updates)*rowOverhead + 1024)
	w, err := file.NewParquetWriterWithError(&buf, newPartSchema(), file.WithWriterProps(writerProps))
	if err != nil {
		return nil, Stats{}, fmt.Errorf("part: new writer: %w", err)
	}
	if err := w.AppendKeyValueMetadata(statsKey, marshalStats(st)); err != nil {
		return nil, Stats{}, fmt.Errorf("part: footer metadata: %w", err)
	}
	if widths != "" {
		if err := w.AppendKeyValueMetadata(widthsKey, widths); err != nil {
			return nil, Stats{}, fmt.Errorf("part: footer metadata: %w", err)
		}
	}
	if err := writeRowGroup(w, updates); err != nil {
		return nil, Stats{}, err
	}
	if err := w.Close(); err != nil {
		return nil, Stats{}, fmt.Errorf("part: close writer: %w", err)
	}
	st.Bytes = int64(buf.Len())
	return buf.Bytes(), st, nil
}

func writeRowGroup(w *file.Writer, updates []Update) error {
	rg, err := w.AppendRowGroupChecked()
	if err != nil {
		return fmt.Errorf("part: append row group: %w", err)
	}
	n := min(len(updates), batchRows)
	bas := make([]parquet.ByteArray, n)
	ints := make([]int64, n)

	for col := range numCols {
		cw, err := rg.NextColumn()
		if err != nil {
			return fmt.Errorf("part: column %s: %w", colNames[col], err)
		}
		for start := 0; start < len(updates); start += batchRows {
			batch := updates[start:min(start+batchRows, len(updates))]
			switch col {
			case colKey, colVal:
				for i := range batch {
					if col == colKey {
						bas[i] = batch[i].Key
					} else {
						bas[i] = batch[i].Val
					}
				}
				_, err = cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(bas[:len(batch)], nil, nil)
			case colTime, colDiff:
				for i := range batch {
					if col == colTime {
						ints[i] = int64(batch[i].Time)
					} else {
						ints[i] = batch[i].Diff
					}
				}
				_, err = cw.(*file.Int64ColumnChunkWriter).WriteBatch(ints[:len(batch)], nil, nil)
			}
			if err != nil {
				return fmt.Errorf("part: write column %s: %w", colNames[col], err)
			}
		}
		if err := cw.Close(); err != nil {
			return fmt.Errorf("part: close column %s: %w", colNames[col], err)
		}
	}
	if err := rg.Close(); err != nil {
		return fmt.Errorf("part: close row group: %w", err)
	}
	return nil
}
