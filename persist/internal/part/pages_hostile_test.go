package part

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// testPage is a page of a column chunk, split off a part to be rewritten.
type testPage struct {
	h    thriftHeader
	body []byte
}

// splitPages returns the footer of a part of one row group and the pages of
// each of its column chunks.
func splitPages(t *testing.T, data []byte) (*metadata.FileMetaData, [numCols][]testPage) {
	t.Helper()
	var f footer
	end, err := open(data, &f)
	if err != nil || len(f.groups) != 1 {
		t.Fatalf("open: %v, %d row groups", err, len(f.groups))
	}
	md, err := metadata.NewFileMetaData(data[end:len(data)-footerTail], nil)
	if err != nil {
		t.Fatal(err)
	}
	var cols [numCols][]testPage
	for col := range numCols {
		lo, hi, err := columnChunk(&f.groups[0], col, end)
		if err != nil {
			t.Fatal(err)
		}
		for chunk := data[lo:hi]; len(chunk) > 0; {
			h, body, rest, err := nextPage(chunk)
			if err != nil {
				t.Fatalf("column %s: %v", colNames[col], err)
			}
			sub := int16(5)
			if h.typ == pageDictionary {
				sub = 7
			}
			cols[col] = append(cols[col], testPage{thriftHeader{
				typ: h.typ, uncompressed: h.uncompressed, compressed: h.compressed,
				sub: sub, numValues: h.numValues, encoding: int32(h.encoding),
			}, body})
			chunk = rest
		}
	}
	return md, cols
}

// joinPages writes a part of the given pages under md's footer, with the
// offsets and sizes of its column chunks fixed to where the pages went.
func joinPages(t *testing.T, md *metadata.FileMetaData, cols [numCols][]testPage) []byte {
	t.Helper()
	out := []byte("PAR1")
	for col, pages := range cols {
		start := int64(len(out))
		cm := md.RowGroups[0].Columns[col].MetaData
		cm.DataPageOffset, cm.DictionaryPageOffset = start, nil
		for i, p := range pages {
			if i == 0 && p.h.typ == pageDictionary {
				cm.DictionaryPageOffset = &start
				cm.DataPageOffset = start + int64(len(writeThriftHeader(p.h))+len(p.body))
			}
			out = append(out, writeThriftHeader(p.h)...)
			out = append(out, p.body...)
		}
		cm.TotalCompressedSize = int64(len(out)) - start
		cm.TotalUncompressedSize = cm.TotalCompressedSize
	}
	footer, err := md.Serialize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, "PAR1"...)
}

// TestHostilePages rewrites the pages of valid parts into every kind of
// page Encode never writes, or pages that lie about their sizes and
// counts. Decode must refuse each as corrupt: it must not decode values of
// an encoding it does not know, or read beyond a page.
func TestHostilePages(t *testing.T) {
	inModes(t, func(t *testing.T) {
		shapes := testShapes()
		dictFirst := func(ps []testPage) bool { return ps[0].h.typ == pageDictionary }
		lastPage := func(ps []testPage) *testPage { return &ps[len(ps)-1] }
		firstData := func(ps []testPage) *testPage {
			if dictFirst(ps) {
				return &ps[1]
			}
			return &ps[0]
		}
		type edit func(ps []testPage) []testPage
		setEncoding := func(enc int32) edit {
			return func(ps []testPage) []testPage { firstData(ps).h.encoding = enc; return ps }
		}
		cases := map[string]edit{
			"data page v2": func(ps []testPage) []testPage {
				lastPage(ps).h.typ, lastPage(ps).h.sub = pageDataV2, 8
				return ps
			},
			"index page": func(ps []testPage) []testPage {
				return slices.Insert(ps, 0, testPage{h: thriftHeader{typ: pageIndex, sub: 6}})
			},
			"unknown page type": func(ps []testPage) []testPage { firstData(ps).h.typ = 7; return ps },
			"data page with the header of a dictionary": func(ps []testPage) []testPage {
				firstData(ps).h.sub = 7
				return ps
			},
			"dictionary page with RLE_DICTIONARY values": func(ps []testPage) []testPage {
				ps[0].h.encoding = 8 // on a data page, too, if the chunk has no dictionary
				return ps
			},
			"sizes disagree": func(ps []testPage) []testPage { lastPage(ps).h.uncompressed++; return ps },
			"page beyond its chunk": func(ps []testPage) []testPage {
				lastPage(ps).h.uncompressed++
				lastPage(ps).h.compressed++
				return ps
			},
			"negative sizes": func(ps []testPage) []testPage {
				ps[0].h.uncompressed, ps[0].h.compressed = -1, -1
				return ps
			},
			"negative value count":  func(ps []testPage) []testPage { firstData(ps).h.numValues = -1; return ps },
			"more values than rows": func(ps []testPage) []testPage { lastPage(ps).h.numValues++; return ps },
			"a data page missing":   func(ps []testPage) []testPage { return ps[:len(ps)-1] },
			"dictionary missing": func(ps []testPage) []testPage {
				if dictFirst(ps) {
					return ps[1:]
				}
				return ps[:0]
			},
			"second dictionary page": func(ps []testPage) []testPage {
				if dictFirst(ps) {
					return slices.Insert(ps, 1, ps[0])
				}
				return slices.Insert(ps, 0, testPage{h: thriftHeader{typ: pageDictionary, sub: 7}}, testPage{h: thriftHeader{typ: pageDictionary, sub: 7}})
			},
			"a page after the last value": func(ps []testPage) []testPage {
				return append(ps, testPage{h: thriftHeader{typ: pageData, sub: 5}})
			},
			"dictionary page after a data page": func(ps []testPage) []testPage {
				if dictFirst(ps) {
					ps[0], ps[1] = ps[1], ps[0]
					return ps
				}
				return slices.Insert(ps, 1, testPage{h: thriftHeader{typ: pageDictionary, sub: 7}})
			},
			"indices beyond the dictionary": func(ps []testPage) []testPage {
				if dictFirst(ps) {
					ps[0].h.numValues = 0
				} else {
					ps[0].h.encoding = 8
				}
				return ps
			},
			"body cut short": func(ps []testPage) []testPage {
				p := lastPage(ps)
				p.body = p.body[:len(p.body)-1]
				p.h.compressed--
				p.h.uncompressed--
				return ps
			},
		}
		for _, enc := range []int32{3, 4, 5, 6, 7, 9, 42} { // RLE to BYTE_STREAM_SPLIT, and none
			cases[fmt.Sprintf("data page of encoding %d", enc)] = setEncoding(enc)
		}
		for _, shape := range []string{"small", "overflow"} {
			data, _, err := Encode(shapes[shape])
			if err != nil {
				t.Fatal(err)
			}
			md, cols := splitPages(t, data)
			d, err := Decode(joinPages(t, md, cols))
			if err != nil {
				t.Fatalf("%s: the part put back together: %v", shape, err)
			}
			d.Release()
			if shape == "overflow" && cols[colKey][len(cols[colKey])-1].h.encoding != 0 {
				t.Fatalf("overflow: the key column does not end with plain pages")
			}
			for name, edit := range cases {
				for col := range numCols {
					md, cols := splitPages(t, data)
					if name == "body cut short" && col >= colTime && lastPage(cols[col]).h.encoding == 0 {
						continue // trailing bytes of a plain int64 page may be absent: 8 per value
					}
					cols[col] = edit(cols[col])
					bad := joinPages(t, md, cols)
					d, err := Decode(bad)
					if !errors.Is(err, ErrCorrupt) {
						if err == nil {
							d.Release()
						}
						t.Errorf("%s, column %s, %s: Decode = %v, want ErrCorrupt", shape, colNames[col], name, err)
					}
					if bytes.Equal(bad, data) {
						t.Errorf("%s, column %s, %s: the edit changed nothing", shape, colNames[col], name)
					}
				}
			}
		}
	})
}
