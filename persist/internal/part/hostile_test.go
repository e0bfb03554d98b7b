package part_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/shardflow/shardflow/persist/internal/part"
)

// rewriteFooter returns a copy of a part whose footer has been changed by
// edit: the pages stay as written, only the metadata lies.
func rewriteFooter(t *testing.T, data []byte, edit func(md *metadata.FileMetaData)) []byte {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	md := rdr.MetaData()
	edit(md)
	footer, err := md.Serialize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	oldLen := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	out := bytes.Clone(data[:len(data)-8-oldLen])
	out = append(out, footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, "PAR1"...)
}

// TestHostileFooter feeds Decode parts whose footers lie about sizes and
// counts. Each must be refused as corrupt without trusting the lie (no
// allocation of the claimed size, no endless wait for missing values).
func TestHostileFooter(t *testing.T) {
	data, _, err := part.Encode(repeatedUpdates(50))
	if err != nil {
		t.Fatal(err)
	}
	if same := rewriteFooter(t, data, func(*metadata.FileMetaData) {}); !bytes.Equal(same, data) {
		t.Fatal("rewriteFooter without an edit changed the part")
	}
	for _, tc := range []struct {
		name  string
		edit  func(md *metadata.FileMetaData)
		stats bool // ReadStats must refuse it too
	}{
		{"chunk length beyond the part", func(md *metadata.FileMetaData) {
			md.RowGroups[0].Columns[1].MetaData.TotalCompressedSize = 1 << 40
		}, true},
		{"chunk offset beyond the part", func(md *metadata.FileMetaData) {
			md.RowGroups[0].Columns[2].MetaData.DataPageOffset = 1 << 40
		}, true},
		{"negative chunk offset", func(md *metadata.FileMetaData) {
			md.RowGroups[0].Columns[0].MetaData.DataPageOffset = -5
		}, true},
		{"more rows than MaxRows", func(md *metadata.FileMetaData) {
			md.NumRows = part.MaxRows + 1
			md.RowGroups[0].NumRows = part.MaxRows + 1
		}, true},
		{"row groups disagree with the file", func(md *metadata.FileMetaData) {
			md.NumRows = 49
		}, true},
		{"more rows than the pages hold", func(md *metadata.FileMetaData) {
			md.NumRows = part.MaxRows
			md.RowGroups[0].NumRows = part.MaxRows
		}, false},
		{"a column renamed", func(md *metadata.FileMetaData) {
			md.FileMetaData.Schema[2].Name = "value"
		}, true},
		{"stats entry of another version", func(md *metadata.FileMetaData) {
			for _, kv := range md.KeyValueMetadata() {
				v := strings.Replace(*kv.Value, "v1", "v9", 1)
				kv.Value = &v
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := rewriteFooter(t, data, tc.edit)
			_, serr := part.ReadStats(bad)
			if tc.stats && !errors.Is(serr, part.ErrCorrupt) {
				t.Fatalf("ReadStats = %v, want ErrCorrupt", serr)
			}
			if serr != nil && !errors.Is(serr, part.ErrCorrupt) {
				t.Fatalf("ReadStats error %v does not wrap ErrCorrupt", serr)
			}
			if tc.name == "stats entry of another version" {
				return // the rows are intact; only the stats are unreadable
			}
			d, err := part.Decode(bad)
			if !errors.Is(err, part.ErrCorrupt) {
				if err == nil {
					d.Release()
				}
				t.Fatalf("Decode = %v, want ErrCorrupt", err)
			}
		})
	}
}
