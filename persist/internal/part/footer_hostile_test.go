package part

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/thrift/lib/go/thrift"
)

// splitFooter returns the bytes of a part before its footer, and the footer.
func splitFooter(t testing.TB, data []byte) (pages, foot []byte) {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(data[len(data)-footerTail:]))
	end := len(data) - footerTail
	return data[: end-n : end-n], data[end-n : end : end]
}

// withFooter returns pages followed by foot, its length and the magic bytes.
func withFooter(pages, foot []byte) []byte {
	out := append(bytes.Clone(pages), foot...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(foot)))
	return append(out, magic...)
}

// editProto is Thrift's compact protocol writer with hooks that change
// what arrow's generated code writes: field and list headers, and fields
// added at the end of a struct.
type editProto struct {
	*thrift.TCompactProtocol
	structs []string // names of the structs being written, innermost last
	field   string   // the field begun last

	editField func(field string, typ thrift.TType, id int16) (thrift.TType, int16)
	editList  func(field string, elem thrift.TType, n int) (thrift.TType, int)
	addFields func(p *editProto, in string) // before the stop of struct in
}

func (p *editProto) WriteStructBegin(ctx context.Context, name string) error {
	p.structs = append(p.structs, name)
	return p.TCompactProtocol.WriteStructBegin(ctx, name)
}

func (p *editProto) WriteStructEnd(ctx context.Context) error {
	p.structs = p.structs[:len(p.structs)-1]
	return p.TCompactProtocol.WriteStructEnd(ctx)
}

func (p *editProto) WriteFieldBegin(ctx context.Context, name string, typ thrift.TType, id int16) error {
	p.field = name
	if p.editField != nil {
		typ, id = p.editField(name, typ, id)
	}
	return p.TCompactProtocol.WriteFieldBegin(ctx, name, typ, id)
}

func (p *editProto) WriteListBegin(ctx context.Context, elem thrift.TType, n int) error {
	if p.editList != nil {
		elem, n = p.editList(p.field, elem, n)
	}
	return p.TCompactProtocol.WriteListBegin(ctx, elem, n)
}

func (p *editProto) WriteFieldStop(ctx context.Context) error {
	if p.addFields != nil {
		add := p.addFields
		p.addFields = nil // not into the fields it adds
		add(p, p.structs[len(p.structs)-1])
		p.addFields = add
	}
	return p.TCompactProtocol.WriteFieldStop(ctx)
}

// editFooter rewrites a footer through p's hooks.
func editFooter(t testing.TB, foot []byte, p *editProto) []byte {
	t.Helper()
	md, err := metadata.NewFileMetaData(foot, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := thrift.NewTMemoryBuffer()
	p.TCompactProtocol = thrift.NewTCompactProtocolConf(buf, nil)
	ctx := context.Background()
	if err := md.FileMetaData.Write(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// must panics on a write error: the writers write to memory.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// emptyStruct writes field id as a struct of no fields, nested deep: a
// struct holding a struct, and so on.
func emptyStruct(p *editProto, id int16, deep int) {
	ctx := context.Background()
	must(p.TCompactProtocol.WriteFieldBegin(ctx, "", thrift.STRUCT, id))
	must(p.TCompactProtocol.WriteStructBegin(ctx, ""))
	if deep > 1 {
		emptyStruct(p, 1, deep-1)
	}
	must(p.TCompactProtocol.WriteFieldStop(ctx))
	must(p.TCompactProtocol.WriteStructEnd(ctx))
}

// hostileFooters returns footers edited into forms readFooter or open
// must refuse, by name.
func hostileFooters(t testing.TB, foot []byte) map[string][]byte {
	out := map[string][]byte{}
	for cut := 0; cut < len(foot); cut += 1 + len(foot)/40 {
		out[fmt.Sprintf("cut to %d bytes", cut)] = foot[:cut]
	}
	out["trailing byte"] = append(bytes.Clone(foot), 0)
	huge := []int{1 << 31, 1 << 40, 1<<63 - 1, len(foot)}
	for _, list := range []string{"schema", "row_groups", "columns", "key_value_metadata", "encodings", "path_in_schema", "column_orders"} {
		for _, n := range huge {
			out[fmt.Sprintf("%s of %d elements", list, n)] = editFooter(t, foot, &editProto{
				editList: func(field string, elem thrift.TType, m int) (thrift.TType, int) {
					if field == list {
						return elem, n
					}
					return elem, m
				},
			})
		}
		out["list of the wrong type: "+list] = editFooter(t, foot, &editProto{
			editList: func(field string, elem thrift.TType, m int) (thrift.TType, int) {
				if field == list {
					return thrift.I16, m
				}
				return elem, m
			},
		})
	}
	wrong := map[string]thrift.TType{
		"version": thrift.I64, "num_rows": thrift.I32, "row_groups": thrift.SET, "schema": thrift.STRUCT,
		"name": thrift.I32, "type": thrift.I64, "num_children": thrift.I16, "repetition_type": thrift.BYTE,
		"columns": thrift.MAP, "codec": thrift.I64, "num_values": thrift.I32, "data_page_offset": thrift.I32,
		"dictionary_page_offset": thrift.DOUBLE, "total_compressed_size": thrift.I32, "file_offset": thrift.I32,
		"total_uncompressed_size": thrift.STRING, "meta_data": thrift.LIST, "key": thrift.I32, "value": thrift.I32,
		"total_byte_size": thrift.I32,
	}
	for field, typ := range wrong {
		out[field+" of the wrong type"] = editFooter(t, foot, &editProto{
			editField: func(f string, ft thrift.TType, id int16) (thrift.TType, int16) {
				if f == field {
					return typ, id
				}
				return ft, id
			},
		})
	}
	for _, field := range []string{"version", "num_rows", "row_groups", "schema", "name", "columns", "codec",
		"num_values", "data_page_offset", "total_compressed_size", "file_offset", "total_uncompressed_size", "key",
		"total_byte_size", "type", "encodings", "path_in_schema", "meta_data", "num_children"} {
		out[field+" missing"] = editFooter(t, foot, &editProto{
			editField: func(f string, ft thrift.TType, id int16) (thrift.TType, int16) {
				if f == field {
					return ft, 30000 // unknown, so the field it was is missing
				}
				return ft, id
			},
		})
	}
	for in, id := range map[string]int16{"FileMetaData": 3, "ColumnMetaData": 9, "RowGroup": 3} {
		out[fmt.Sprintf("field %d of %s twice", id, in)] = editFooter(t, foot, &editProto{
			addFields: func(p *editProto, s string) {
				if s == in {
					ctx := context.Background()
					must(p.TCompactProtocol.WriteFieldBegin(ctx, "", thrift.I64, id))
					must(p.TCompactProtocol.WriteI64(ctx, 0))
				}
			},
		})
	}
	for name, in := range map[string]string{"FileMetaData": "file", "ColumnChunk": "column chunk", "RowGroup": "row group", "ColumnMetaData": "column metadata"} {
		out["nested 40 deep in the "+in] = editFooter(t, foot, &editProto{
			addFields: func(p *editProto, s string) {
				if s == name {
					emptyStruct(p, 200, 40)
				}
			},
		})
	}
	out["encrypted file"] = editFooter(t, foot, &editProto{
		addFields: func(p *editProto, s string) {
			if s == "FileMetaData" {
				emptyStruct(p, 8, 2) // encryption_algorithm: AES_GCM_V1
			}
		},
	})
	out["encrypted column"] = editFooter(t, foot, &editProto{
		addFields: func(p *editProto, s string) {
			if s == "ColumnChunk" {
				emptyStruct(p, 8, 2) // crypto_metadata: ENCRYPTION_WITH_FOOTER_KEY
			}
		},
	})
	out["schema of six elements"] = editFooter(t, foot, &editProto{
		editList: func(field string, elem thrift.TType, n int) (thrift.TType, int) {
			if field == "schema" {
				n++ // the next field is read as the sixth
			}
			return elem, n
		},
	})
	return out
}

// TestHostileFooterForms feeds open footers of every form hostileFooters
// makes, and Decode parts of them. Each must be refused as corrupt.
func TestHostileFooterForms(t *testing.T) {
	changed := map[string]bool{}
	for name, us := range testShapes() {
		if name != "small" && name != "p1" {
			continue
		}
		data, _, err := Encode(us)
		if err != nil {
			t.Fatal(err)
		}
		pages, foot := splitFooter(t, data)
		if same := editFooter(t, foot, &editProto{}); !bytes.Equal(same, foot) {
			t.Fatal("editFooter without an edit changed the footer")
		}
		for form, bad := range hostileFooters(t, foot) {
			if changed[form] = changed[form] || !bytes.Equal(bad, foot); bytes.Equal(bad, foot) {
				continue // a field the part does not have
			}
			part := withFooter(pages, bad)
			var f footer
			if _, err := open(part, &f); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: %s: open = %v, want ErrCorrupt", name, form, err)
			}
			if d, err := Decode(part); !errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "panicked") {
				if err == nil {
					d.Release()
				}
				t.Errorf("%s: %s: Decode = %v, want ErrCorrupt", name, form, err)
			}
			if _, err := ReadStats(part); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: %s: ReadStats = %v, want ErrCorrupt", name, form, err)
			}
		}
	}
	for form, ok := range changed {
		if !ok {
			t.Errorf("%s: the edit changed no part", form)
		}
	}
}
