package part

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/shardflow/shardflow/frontier"
)

// frontierTime reads a time as arrow-go's Int64 column reader returns it.
func frontierTime(v int64) frontier.Time { return frontier.Time(uint64(v)) }

// arrowRows reads a part's rows with arrow's column readers, or fails.
func arrowRows(data []byte) (us []Update, err error) {
	defer func() {
		if r := recover(); r != nil {
			us, err = nil, fmt.Errorf("arrow panicked: %v", r)
		}
	}()
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	for g := 0; g < rdr.NumRowGroups(); g++ {
		rg := rdr.RowGroup(g)
		n := rg.NumRows()
		if n > MaxRows || n < 0 {
			return nil, fmt.Errorf("rows %d", n)
		}
		start := len(us)
		us = append(us, make([]Update, n)...)
		rows := us[start:]
		for c := range numCols {
			cr, err := rg.Column(c)
			if err != nil {
				return nil, err
			}
			switch r := cr.(type) {
			case *file.ByteArrayColumnChunkReader:
				vals, err := readColumn(c, n, r.ReadBatch, r.HasNext)
				if err != nil {
					return nil, err
				}
				for i := range rows {
					v := bytes.Clone(vals[i])
					if c == colKey {
						rows[i].Key = v
					} else {
						rows[i].Val = v
					}
				}
			case *file.Int64ColumnChunkReader:
				vals, err := readColumn(c, n, r.ReadBatch, r.HasNext)
				if err != nil {
					return nil, err
				}
				for i := range rows {
					if c == colTime {
						rows[i].Time = frontierTime(vals[i])
					} else {
						rows[i].Diff = vals[i]
					}
				}
			default:
				return nil, fmt.Errorf("col %d: reader %T", c, cr)
			}
		}
	}
	return us, nil
}

// readColumn reads column c's n values of one row group with an arrow-go
// typed column reader's ReadBatch, and fails if it has fewer or more.
func readColumn[V any](c int, n int64, readBatch func(int64, []V, []int16, []int16) (int64, int, error), hasNext func() bool) ([]V, error) {
	vals := make([]V, n)
	for got := 0; got < int(n); {
		_, k, err := readBatch(n-int64(got), vals[got:], nil, nil)
		if err != nil {
			return nil, err
		}
		if k == 0 {
			return nil, fmt.Errorf("col %d: %d of %d values", c, got, n)
		}
		got += k
	}
	if hasNext() {
		return nil, fmt.Errorf("col %d: more values", c)
	}
	return vals, nil
}

// FuzzDecodeArrow holds Decode to arrow-go's reading of the same bytes:
// where both accept, they read the same rows (see checkArrow). FuzzDecode
// checks only that what Decode reads re-encodes the same, which a wrong
// decode passes.
func FuzzDecodeArrow(f *testing.F) {
	for _, name := range []string{"small"} {
		data, _, err := Encode(testShapes()[name])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, us := range [][]Update{
		{{Key: []byte("k"), Val: []byte("v"), Time: 1, Diff: 1}},
		{{Key: []byte("a"), Time: 0, Diff: -1}, {Key: []byte("a"), Val: []byte("xyz"), Time: 1 << 63, Diff: 5}, {Time: 2}},
		keysOfLengths(4, 3, 5),
		rep(50),
	} {
		data, _, err := Encode(us)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkArrow(t, data) })
}

// rep returns n updates with a few distinct keys, values and times.
func rep(n int) []Update {
	us := make([]Update, n)
	for i := range us {
		us[i] = Update{Key: []byte{byte(i % 4)}, Val: bytes.Repeat([]byte{'v'}, i%5), Time: frontierTime(int64(i % 3)), Diff: 1}
	}
	return us
}

// FuzzPagesArrow rewrites one page of a valid part: its body becomes the
// fuzzed bytes, its value count and encoding fuzzed too, the chunk's sizes
// and offsets fixed up. Where Decode accepts the part and arrow reads it,
// both must read the same rows (the widths hint aside, see checkArrow).
func FuzzPagesArrow(f *testing.F) {
	bases := [][]Update{rep(50), testShapes()["small"], keysOfLengths(4, 3, 5)}
	var parts [][]byte
	for _, us := range bases {
		data, _, err := Encode(us)
		if err != nil {
			f.Fatal(err)
		}
		parts = append(parts, data)
	}
	f.Add(uint8(0), uint8(0), uint8(1), []byte{}, int32(0), uint8(0), false)
	f.Add(uint8(0), uint8(2), uint8(1), []byte{1, 3, 0}, int32(0), uint8(0), true)
	f.Add(uint8(1), uint8(0), uint8(0), []byte{}, int32(0), uint8(0), false)
	f.Add(uint8(2), uint8(0), uint8(0), []byte{4, 0, 0, 0, 'a', 'a', 'a', 'a'}, int32(0), uint8(0), true)
	f.Fuzz(func(t *testing.T, base, col, page uint8, body []byte, nv int32, enc uint8, replace bool) {
		data := parts[int(base)%len(parts)]
		md, cols := splitPages(t, data)
		c := int(col) % numCols
		ps := cols[c]
		p := &ps[int(page)%len(ps)]
		if replace {
			p.body = body
			p.h.uncompressed, p.h.compressed = int32(len(body)), int32(len(body))
		}
		p.h.numValues += nv
		switch enc % 4 {
		case 1:
			p.h.encoding = 0
		case 2:
			p.h.encoding = 2
		case 3:
			p.h.encoding = 8
		}
		if p.h.typ == pageData && (p.h.encoding == 2 || p.h.encoding == 8) && len(p.body) > 0 && p.body[0] == 0 {
			// arrow reads an RLE run of bit width 0 as a stale byte
			// (BitReader.getAlignedUint8 with nbytes 0), not as index 0.
			return
		}
		part := joinPages(t, md, cols)
		checkArrow(t, part)
	})
}

// checkArrow decodes data with Decode and with arrow-go: where both
// accept it, they must read the same rows, except in a key or value
// column whose footer width hint the values arrow-go reads contradict
// (Decode takes a page of fixed-width values at the width the writer
// declares, as documented, without a pass over their lengths).
func checkArrow(t *testing.T, data []byte) {
	d, err := Decode(data)
	if err != nil {
		return
	}
	defer d.Release()
	var ft footer
	if _, err := open(data, &ft); err != nil {
		t.Fatalf("Decode accepts, open refuses: %v", err)
	}
	ref, aerr := arrowRows(data)
	if aerr != nil {
		return
	}
	if len(ref) != d.Len() {
		t.Fatalf("Decode reads %d rows, arrow %d", d.Len(), len(ref))
	}
	hintLies := [2]bool{}
	for _, u := range ref {
		if ft.widths[colKey] >= 0 && int64(len(u.Key)) != ft.widths[colKey] {
			hintLies[colKey] = true
		}
		if ft.widths[colVal] >= 0 && int64(len(u.Val)) != ft.widths[colVal] {
			hintLies[colVal] = true
		}
	}
	for i, u := range ref {
		if !hintLies[colKey] && !bytes.Equal(d.Key(i), u.Key) {
			t.Fatalf("row %d: key %q, arrow %q", i, d.Key(i), u.Key)
		}
		if !hintLies[colVal] && !bytes.Equal(d.Val(i), u.Val) {
			t.Fatalf("row %d: val %q, arrow %q", i, d.Val(i), u.Val)
		}
		if d.Time(i) != u.Time || d.Diff(i) != u.Diff {
			t.Fatalf("row %d: time %d diff %d, arrow %d %d", i, d.Time(i), d.Diff(i), u.Time, u.Diff)
		}
	}
}
