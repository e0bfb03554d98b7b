package part

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// writeLayout writes updates as a part the way Encode does, but with the
// layout knobs varied: row groups, data page size, dictionary page limit,
// dictionary on or off, write batch size.
func writeLayout(t *testing.T, us []Update, rgLen, pageSize, dictLimit, batch int, dict, hint bool) []byte {
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Uncompressed),
		parquet.WithDictionaryDefault(dict),
		parquet.WithMaxRowGroupLength(int64(rgLen)),
		parquet.WithDataPageSize(int64(pageSize)),
		parquet.WithDictionaryPageSizeLimit(int64(dictLimit)),
		parquet.WithBatchSize(int64(batch)),
		parquet.WithStatsFor(colNames[colKey], false),
		parquet.WithStatsFor(colNames[colVal], false),
	)
	var buf bytes.Buffer
	w, err := file.NewParquetWriterWithError(&buf, newPartSchema(), file.WithWriterProps(props))
	if err != nil {
		t.Fatal(err)
	}
	st := computeStats(us)
	if err := w.AppendKeyValueMetadata(statsKey, marshalStats(st)); err != nil {
		t.Fatal(err)
	}
	if hint {
		if err := w.AppendKeyValueMetadata(widthsKey, marshalWidths(widthOf(us, colKey), widthOf(us, colVal))); err != nil {
			t.Fatal(err)
		}
	}
	for start := 0; start < len(us) || start == 0; start += rgLen {
		if err := writeRowGroup(w, us[start:min(start+rgLen, len(us))]); err != nil {
			t.Fatal(err)
		}
		if len(us) == 0 {
			break
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzLayouts: Decode of a valid part of any layout arrow writes with the
// encodings a part may use reads the rows written, in both modes.
func FuzzLayouts(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 0, 2, 1, 0, 0, 4, 0xfe, 1, 1, 3, 7}, uint8(2), uint16(16), uint16(8), uint8(1), true, true, uint8(0))
	f.Add([]byte{5, 5, 5, 5, 5, 5, 5, 5, 1, 2, 3, 4, 9, 9, 9, 9, 0, 1, 2, 3}, uint8(3), uint16(40), uint16(30), uint8(2), true, true, uint8(3))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 30), uint8(7), uint16(64), uint16(64), uint8(5), false, true, uint8(1))
	f.Fuzz(func(t *testing.T, raw []byte, rgLen uint8, pageSize, dictLimit uint16, batch uint8, dict, hint bool, keyMode uint8) {
		var us []Update
		for i := 0; i+4 <= len(raw) && len(us) < 300; i += 4 {
			var k []byte
			switch keyMode % 4 {
			case 0: // fixed width 4
				k = []byte{raw[i] % 5, 0, 0, raw[i+1] % 3}
			case 1: // varying width
				k = bytes.Repeat([]byte{'k'}, int(raw[i]%6))
			case 2: // fixed width 0
				k = nil
			case 3: // fixed 1 byte, all distinct-ish
				k = []byte{raw[i]}
			}
			us = append(us, Update{
				Key:  k,
				Val:  bytes.Repeat([]byte{'v'}, int(raw[i+1]%3)),
				Time: frontierTime(int64(raw[i+2] % 8)),
				Diff: int64(int8(raw[i+3])),
			})
		}
		if len(us) == 0 {
			// Encode writes an empty part with the dictionary on; arrow
			// without one gives each chunk offset 0 and size 0, which
			// open refuses: not a layout Encode writes.
			return
		}
		data := writeLayout(t, us, int(rgLen)%50+1, int(pageSize)%2000+1, int(dictLimit)%2000+1, int(batch)%64+1, dict, hint)
		for _, copied := range []bool{false, true} {
			saved := maxReferenced
			if copied {
				maxReferenced = 0
			}
			d, err := Decode(data)
			maxReferenced = saved
			if err != nil {
				t.Fatalf("copied %v: Decode of a valid part: %v", copied, err)
			}
			if d.Len() != len(us) {
				t.Fatalf("copied %v: %d rows, wrote %d", copied, d.Len(), len(us))
			}
			for i, u := range us {
				if !bytes.Equal(d.Key(i), u.Key) || !bytes.Equal(d.Val(i), u.Val) || d.Time(i) != u.Time || d.Diff(i) != u.Diff {
					t.Fatalf("copied %v: row %d: %q %q %d %d, wrote %q %q %d %d", copied, i, d.Key(i), d.Val(i), d.Time(i), d.Diff(i), u.Key, u.Val, u.Time, u.Diff)
				}
			}
			d.Release()
		}
	})
}
