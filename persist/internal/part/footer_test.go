package part

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/thrift/lib/go/thrift"
)

// footerView is what readFooter extracts, in a form to compare.
type footerView struct {
	NumRows   int64
	Encrypted bool
	Schema    []elemView
	Groups    []groupView
	Stats     string
	HasStats  bool
}

type elemView struct {
	Name                    string
	Typ, Repetition, Childs int32
}

type groupView struct {
	NumRows int64
	Cols    []chunkMeta
}

func (f *footer) view() footerView {
	v := footerView{NumRows: f.numRows, Encrypted: f.encrypted, Stats: string(f.stats), HasStats: f.hasStats}
	for _, e := range f.schema {
		v.Schema = append(v.Schema, elemView{string(e.name), e.typ, e.repetition, e.childs})
	}
	for _, g := range f.groups {
		v.Groups = append(v.Groups, groupView{g.numRows, g.cols[:]})
	}
	return v
}

// arrowView is what arrow's footer reader makes of the same fields.
func arrowView(md *metadata.FileMetaData) footerView {
	v := footerView{NumRows: md.NumRows, Encrypted: md.IsSetEncryptionAlgorithm()}
	for _, e := range md.FileMetaData.Schema {
		v.Schema = append(v.Schema, elemView{e.Name, int32(e.GetType()), int32(e.GetRepetitionType()), e.GetNumChildren()})
	}
	for _, g := range md.RowGroups {
		gv := groupView{NumRows: g.NumRows}
		for _, c := range g.Columns {
			cc := chunkMeta{hasMeta: c.IsSetMetaData(), encrypted: c.IsSetCryptoMetadata()}
			if m := c.MetaData; m != nil {
				cc.typ, cc.codec, cc.numValues = int32(m.Type), int32(m.Codec), m.NumValues
				cc.uncompressed, cc.compressed = m.TotalUncompressedSize, m.TotalCompressedSize
				cc.dataOffset, cc.hasDict, cc.dictOffset = m.DataPageOffset, m.IsSetDictionaryPageOffset(), m.GetDictionaryPageOffset()
			}
			gv.Cols = append(gv.Cols, cc)
		}
		v.Groups = append(v.Groups, gv)
	}
	if s := md.KeyValueMetadata().FindValue(statsKey); s != nil {
		v.Stats, v.HasStats = *s, true
	}
	return v
}

// refFooter reads the fields readFooter extracts with Thrift's own compact
// protocol reader, skipping the rest as Thrift's generated code would, but
// validating nothing: an independent reading of the same bytes.
func refFooter(b []byte) (v footerView, ok bool) {
	ctx := context.Background()
	buf := thrift.NewTMemoryBuffer()
	buf.Write(b)
	p := thrift.NewTCompactProtocolConf(buf, nil)
	readStruct := func(fn func(id int16, t thrift.TType) (bool, error)) error { return refReadStruct(ctx, p, fn) }
	eachStruct := func(fn func(i int, id int16, t thrift.TType) (bool, error)) error {
		_, n, err := p.ReadListBegin(ctx)
		for i := 0; err == nil && i < n; i++ {
			err = readStruct(func(id int16, t thrift.TType) (bool, error) { return fn(i, id, t) })
		}
		return err
	}
	type kv struct {
		key, val string
		hasVal   bool
	}
	var kvs []kv
	i32 := func(dst *int32) (bool, error) { x, err := p.ReadI32(ctx); *dst = x; return true, err }
	i64 := func(dst *int64) (bool, error) { x, err := p.ReadI64(ctx); *dst = x; return true, err }
	readChunk := func(cc *chunkMeta) error {
		return readStruct(func(id int16, t thrift.TType) (bool, error) {
			switch {
			case id == 1 && t == thrift.I32:
				return i32(&cc.typ)
			case id == 4 && t == thrift.I32:
				return i32(&cc.codec)
			case id == 5 && t == thrift.I64:
				return i64(&cc.numValues)
			case id == 6 && t == thrift.I64:
				return i64(&cc.uncompressed)
			case id == 7 && t == thrift.I64:
				return i64(&cc.compressed)
			case id == 9 && t == thrift.I64:
				return i64(&cc.dataOffset)
			case id == 11 && t == thrift.I64:
				cc.hasDict = true
				return i64(&cc.dictOffset)
			}
			return false, nil
		})
	}
	err := readStruct(func(id int16, t thrift.TType) (bool, error) {
		switch {
		case id == 2 && t == thrift.LIST:
			return true, eachStruct(func(i int, id int16, t thrift.TType) (bool, error) {
				if i == len(v.Schema) {
					v.Schema = append(v.Schema, elemView{})
				}
				e := &v.Schema[i]
				switch {
				case id == 1 && t == thrift.I32:
					return i32(&e.Typ)
				case id == 3 && t == thrift.I32:
					return i32(&e.Repetition)
				case id == 4 && t == thrift.STRING:
					var err error
					e.Name, err = p.ReadString(ctx)
					return true, err
				case id == 5 && t == thrift.I32:
					return i32(&e.Childs)
				}
				return false, nil
			})
		case id == 3 && t == thrift.I64:
			return i64(&v.NumRows)
		case id == 4 && t == thrift.LIST:
			return true, eachStruct(func(i int, id int16, t thrift.TType) (bool, error) {
				if i == len(v.Groups) {
					v.Groups = append(v.Groups, groupView{})
				}
				g := &v.Groups[i]
				switch {
				case id == 1 && t == thrift.LIST:
					return true, eachStruct(func(c int, id int16, t thrift.TType) (bool, error) {
						if c == len(g.Cols) {
							g.Cols = append(g.Cols, chunkMeta{})
						}
						cc := &g.Cols[c]
						switch {
						case id == 3 && t == thrift.STRUCT:
							cc.hasMeta = true
							return true, readChunk(cc)
						case id == 8 && t == thrift.STRUCT:
							cc.encrypted = true
						}
						return false, nil
					})
				case id == 3 && t == thrift.I64:
					return i64(&g.NumRows)
				}
				return false, nil
			})
		case id == 5 && t == thrift.LIST:
			return true, eachStruct(func(i int, id int16, t thrift.TType) (bool, error) {
				if i == len(kvs) {
					kvs = append(kvs, kv{})
				}
				switch {
				case id == 1 && t == thrift.STRING:
					var err error
					kvs[i].key, err = p.ReadString(ctx)
					return true, err
				case id == 2 && t == thrift.STRING:
					var err error
					kvs[i].val, err = p.ReadString(ctx)
					kvs[i].hasVal = true
					return true, err
				}
				return false, nil
			})
		case id == 8 && t == thrift.STRUCT:
			v.Encrypted = true
		}
		return false, nil
	})
	for _, e := range kvs {
		if e.key == statsKey {
			if e.hasVal {
				v.Stats, v.HasStats = e.val, true
			}
			break
		}
	}
	return v, err == nil
}

// checkFooter holds readFooter to its rule against arrow's reader and the
// reference reader, on the footer foot of a part of pages:
//
//   - readFooter, open and Decode never panic, and they refuse bad bytes
//     with errors wrapping ErrCorrupt;
//   - where readFooter accepts, the reference reader accepts too and reads
//     the same values (unless readFooter saw encryption, which open
//     refuses, and whose contents arrow reads by their Parquet types);
//   - where readFooter and arrow both accept, arrow's values are ours;
//   - where arrow refuses and readFooter accepts, the reference reader's
//     agreement shows the difference lies in what Decode never reads
//     (annotations, statistics, required fields of structs it skips),
//     and Decode of the part decodes the rows the footer claims, or is
//     refused as corrupt;
//   - where arrow accepts and readFooter refuses, nothing: readFooter
//     refuses more (see its doc), and the tests of real parts check it
//     accepts what Encode writes.
func checkFooter(t *testing.T, pages, foot []byte) {
	var f footer
	err := readFooter(foot, &f)
	md, arrowErr := arrowFooter(foot)
	if err == nil {
		ours := f.view()
		crypt := f.encrypted
		for _, g := range f.groups {
			for _, c := range g.cols {
				crypt = crypt || c.encrypted
			}
		}
		if ref, ok := refFooter(foot); !crypt && (!ok || !reflect.DeepEqual(ref, ours)) {
			t.Fatalf("readFooter reads\n%+v\nThrift's reader (ok %v)\n%+v", ours, ok, ref)
		}
		if arrowErr == nil && !crypt {
			if theirs := arrowView(md); !reflect.DeepEqual(theirs, ours) {
				t.Fatalf("readFooter reads\n%+v\narrow\n%+v", ours, theirs)
			}
		}
	}
	data := withFooter(pages, foot)
	var g footer
	_, oerr := open(data, &g)
	if oerr != nil && !errors.Is(oerr, ErrCorrupt) {
		t.Fatalf("open error %v does not wrap ErrCorrupt", oerr)
	}
	if err != nil && oerr == nil {
		t.Fatalf("open accepts a footer readFooter refuses: %v", err)
	}
	d, derr := Decode(data)
	if derr != nil {
		if !errors.Is(derr, ErrCorrupt) || strings.Contains(derr.Error(), "panicked") {
			t.Fatalf("Decode: %v", derr)
		}
		return
	}
	defer d.Release()
	if oerr != nil || int64(d.Len()) != f.numRows || (arrowErr == nil && md.NumRows != f.numRows) {
		t.Fatalf("Decode read %d rows of a footer of %d (open: %v)", d.Len(), f.numRows, oerr)
	}
}

// arrowFooter is arrow's reading of a footer, with a panic (a huge
// num_children makes FromParquet allocate beyond its means) as an error.
func arrowFooter(foot []byte) (md *metadata.FileMetaData, err error) {
	defer func() {
		if r := recover(); r != nil {
			md, err = nil, fmt.Errorf("arrow panicked: %v", r)
		}
	}()
	return metadata.NewFileMetaData(foot, nil)
}

// footerSeeds returns the pages of the small part, and footers of real
// parts, edited footers and damaged copies of them.
func footerSeeds(t testing.TB) (pages []byte, foots [][]byte) {
	shapes := testShapes()
	shapes["empty"] = nil
	for _, name := range []string{"small", "p1", "overflow", "empty"} {
		data, _, err := Encode(shapes[name])
		if err != nil {
			t.Fatal(err)
		}
		p, foot := splitFooter(t, data)
		if name == "small" {
			pages = p
			for _, bad := range hostileFooters(t, foot) {
				foots = append(foots, bad)
			}
		}
		foots = append(foots, foot)
		for _, at := range []int{1, len(foot) / 4, len(foot) / 2, 3 * len(foot) / 4, len(foot) - 2} {
			b := bytes.Clone(foot)
			b[at] ^= 0x21
			foots = append(foots, b)
		}
	}
	return pages, foots
}

// TestFooterMatchesArrow holds readFooter to checkFooter's rule on the
// seeds of FuzzFooter, and checks it reads every real part's footer.
func TestFooterMatchesArrow(t *testing.T) {
	pages, foots := footerSeeds(t)
	for i, foot := range foots {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkFooter(t, pages, foot) })
	}
	for name, us := range testShapes() {
		data, _, err := Encode(us)
		if err != nil {
			t.Fatal(err)
		}
		_, foot := splitFooter(t, data)
		var f footer
		if err := readFooter(foot, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		md, err := metadata.NewFileMetaData(foot, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ours, theirs := f.view(), arrowView(md); !reflect.DeepEqual(ours, theirs) || !f.hasStats {
			t.Fatalf("%s: readFooter reads\n%+v\narrow\n%+v", name, ours, theirs)
		}
	}
}

// FuzzFooter feeds readFooter, open and Decode arbitrary footers after
// the pages of a small part, holding them to checkFooter's rule.
func FuzzFooter(f *testing.F) {
	pages, foots := footerSeeds(f)
	for _, foot := range foots {
		f.Add(foot)
	}
	f.Fuzz(func(t *testing.T, foot []byte) { checkFooter(t, pages, foot) })
}

// TestOpenAllocates checks that reading the footer of a P1 part into a
// reused footer allocates nothing, and that a pooled footer lets go of
// the part and of a large row group slice.
func TestOpenAllocates(t *testing.T) {
	data, _, err := Encode(testShapes()["p1"])
	if err != nil {
		t.Fatal(err)
	}
	var f footer
	if n := testing.AllocsPerRun(100, func() {
		if _, err := open(data, &f); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("open allocates %v times", n)
	}
	f.groups = append(f.groups, make([]rowGroup, maxKeptGroups)...)
	f.dropAliases()
	if f.stats != nil || f.schema[1].name != nil || f.groups != nil {
		t.Errorf("dropped footer still holds stats %q, name %q, %d row groups", f.stats, f.schema[1].name, cap(f.groups))
	}
}
