package part

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/thrift/lib/go/thrift"
)

// thriftHeader describes a page header to write with Thrift's own compact
// protocol writer, an implementation independent of readPageHeader.
type thriftHeader struct {
	typ, uncompressed, compressed int32
	sub                           int16 // 5 data page header, 7 dictionary, 8 data page v2, 0 none
	numValues, encoding           int32
	noType                        bool // leave out field 1
	extras                        bool // add a CRC, statistics and fields Parquet does not define
}

// writeThriftHeader encodes h as a Parquet PageHeader.
func writeThriftHeader(h thriftHeader) []byte {
	ctx := context.Background()
	buf := thrift.NewTMemoryBuffer()
	p := thrift.NewTCompactProtocolConf(buf, nil)
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	i32 := func(id int16, v int32) {
		must(p.WriteFieldBegin(ctx, "", thrift.I32, id))
		must(p.WriteI32(ctx, v))
	}
	must(p.WriteStructBegin(ctx, ""))
	if !h.noType {
		i32(1, h.typ)
	}
	i32(2, h.uncompressed)
	i32(3, h.compressed)
	if h.extras {
		i32(4, -12345) // crc
	}
	if h.sub != 0 {
		must(p.WriteFieldBegin(ctx, "", thrift.STRUCT, h.sub))
		must(p.WriteStructBegin(ctx, ""))
		i32(1, h.numValues)
		i32(2, h.encoding)
		if h.sub != 7 {
			i32(3, 3) // level encodings, or v2's num_nulls and num_rows
			i32(4, 3)
		}
		if h.extras && h.sub == 5 {
			// statistics: binaries, an i64 and a bool.
			must(p.WriteFieldBegin(ctx, "", thrift.STRUCT, 5))
			must(p.WriteStructBegin(ctx, ""))
			for id := int16(1); id <= 2; id++ {
				must(p.WriteFieldBegin(ctx, "", thrift.STRING, id))
				must(p.WriteBinary(ctx, []byte("0123456789abcdef")))
			}
			must(p.WriteFieldBegin(ctx, "", thrift.I64, 3))
			must(p.WriteI64(ctx, -1<<40))
			must(p.WriteFieldBegin(ctx, "", thrift.BOOL, 7))
			must(p.WriteBool(ctx, true))
			must(p.WriteFieldStop(ctx))
			must(p.WriteStructEnd(ctx))
		}
		if h.sub == 7 {
			must(p.WriteFieldBegin(ctx, "", thrift.BOOL, 3))
			must(p.WriteBool(ctx, false))
		}
		must(p.WriteFieldStop(ctx))
		must(p.WriteStructEnd(ctx))
	}
	if h.extras {
		// Fields a later Parquet might add, one with an id too far from
		// the last for a delta, of every collection kind.
		must(p.WriteFieldBegin(ctx, "", thrift.LIST, 9))
		must(p.WriteListBegin(ctx, thrift.STRING, 20))
		for range 20 {
			must(p.WriteBinary(ctx, []byte("x")))
		}
		must(p.WriteFieldBegin(ctx, "", thrift.MAP, 300))
		must(p.WriteMapBegin(ctx, thrift.I32, thrift.DOUBLE, 2))
		for k := range int32(2) {
			must(p.WriteI32(ctx, k))
			must(p.WriteDouble(ctx, 1.5))
		}
		must(p.WriteFieldBegin(ctx, "", thrift.SET, 301))
		must(p.WriteSetBegin(ctx, thrift.BOOL, 3))
		for range 3 {
			must(p.WriteBool(ctx, true))
		}
		must(p.WriteFieldBegin(ctx, "", thrift.UUID, 302))
		must(p.WriteUUID(ctx, thrift.Tuuid{1, 2, 3}))
		must(p.WriteFieldBegin(ctx, "", thrift.BYTE, 303))
		must(p.WriteByte(ctx, -3))
		must(p.WriteFieldBegin(ctx, "", thrift.I16, 304))
		must(p.WriteI16(ctx, -300))
	}
	must(p.WriteFieldStop(ctx))
	must(p.WriteStructEnd(ctx))
	must(p.Flush(ctx))
	return buf.Bytes()
}

func TestReadPageHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    thriftHeader
		ok   bool
	}{
		{"data page", thriftHeader{typ: pageData, uncompressed: 100, compressed: 100, sub: 5, numValues: 7, encoding: 8}, true},
		{"data page with extras", thriftHeader{typ: pageData, uncompressed: 1 << 30, compressed: -5, sub: 5, numValues: -1, encoding: 0, extras: true}, true},
		{"dictionary page", thriftHeader{typ: pageDictionary, uncompressed: 3, compressed: 4, sub: 7, numValues: 1<<31 - 1, encoding: 2, extras: true}, true},
		{"no type", thriftHeader{noType: true, uncompressed: 1, compressed: 1, sub: 5}, false},
		{"data page v2", thriftHeader{typ: pageDataV2, uncompressed: 1, compressed: 1, sub: 8}, false},
		{"index page", thriftHeader{typ: pageIndex, uncompressed: 0, compressed: 0, sub: 6}, false},
		{"unknown page type", thriftHeader{typ: 9, uncompressed: 0, compressed: 0, sub: 5}, false},
		{"data page with a dictionary header", thriftHeader{typ: pageData, uncompressed: 1, compressed: 1, sub: 7}, false},
		{"dictionary page with a data header", thriftHeader{typ: pageDictionary, uncompressed: 1, compressed: 1, sub: 5}, false},
		{"data page without a header", thriftHeader{typ: pageData, uncompressed: 1, compressed: 1}, false},
	} {
		b := writeThriftHeader(tc.h)
		h, n, err := readPageHeader(append(b, "trailing page body"...))
		if !tc.ok {
			if err == nil {
				t.Errorf("%s: read %+v", tc.name, h)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		want := pageHeader{tc.h.typ, tc.h.uncompressed, tc.h.compressed, tc.h.numValues, 0}
		want.encoding = h.encoding
		if h != want || int32(h.encoding) != tc.h.encoding || n != len(b) {
			t.Errorf("%s: read %+v of %d bytes, want %+v (encoding %d) of %d", tc.name, h, n, want, tc.h.encoding, len(b))
		}
		for cut := range len(b) {
			if _, _, err := readPageHeader(b[:cut]); err == nil {
				t.Fatalf("%s: header cut to %d of %d bytes read", tc.name, cut, len(b))
			}
		}
	}
}

// refPageHeader reads a page header with Thrift's own compact protocol
// reader, skipping what it does not know the way Thrift's generated code
// would. It is the reference readPageHeader must agree with.
func refPageHeader(b []byte) (h pageHeader, n int, ok bool) {
	ctx := context.Background()
	buf := thrift.NewTMemoryBuffer()
	buf.Write(b)
	p := thrift.NewTCompactProtocolConf(buf, nil)
	var sub [8]pageHeader
	var typ thrift.TType
	readStruct := func(fn func(id int16) (bool, error)) error {
		return refReadStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) { typ = t; return fn(id) })
	}
	err := readStruct(func(id int16) (bool, error) {
		var err error
		switch {
		case id >= 1 && id <= 3 && typ == thrift.I32:
			v, err := p.ReadI32(ctx)
			*[...]*int32{&h.typ, &h.uncompressed, &h.compressed}[id-1] = v
			return true, err
		case (id == 5 || id == 7) && typ == thrift.STRUCT:
			var s pageHeader
			err = readStruct(func(id int16) (bool, error) {
				if (id == 1 || id == 2) && typ == thrift.I32 {
					v, err := p.ReadI32(ctx)
					if id == 1 {
						s.numValues = v
					} else {
						s.encoding = parquet.Encoding(v)
					}
					return true, err
				}
				return false, nil
			})
			sub[id] = s
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return h, 0, false
	}
	s := sub[5]
	if h.typ == pageDictionary {
		s = sub[7]
	}
	h.numValues, h.encoding = s.numValues, s.encoding
	return h, len(b) - buf.Len(), true
}

// FuzzPageHeader feeds readPageHeader arbitrary bytes, seeded with headers
// Thrift's writer made and the headers of a real part. It must not panic,
// must consume no more than it is given, and whatever it reads Thrift's own
// reader must read the same (readPageHeader may refuse more: fields of the
// wrong type, values beyond 32 bits, deeper nesting).
func FuzzPageHeader(f *testing.F) {
	for _, h := range []thriftHeader{
		{typ: pageData, uncompressed: 100, compressed: 100, sub: 5, numValues: 7, encoding: 8},
		{typ: pageData, uncompressed: 1 << 20, compressed: 1 << 20, sub: 5, numValues: 1000, extras: true},
		{typ: pageDictionary, uncompressed: 3, compressed: 4, sub: 7, numValues: 3, encoding: 2, extras: true},
		{typ: pageDataV2, uncompressed: 1, compressed: 1, sub: 8},
	} {
		f.Add(writeThriftHeader(h))
	}
	data, _, err := Encode(testShapes()["small"])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[4:])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := readPageHeader(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("read %d bytes of %d", n, len(b))
		}
		ref, refN, ok := refPageHeader(b)
		if !ok || ref != h || refN != n {
			t.Fatalf("read %+v of %d bytes; Thrift reads %+v of %d bytes (ok %v)", h, n, ref, refN, ok)
		}
	})
}

// refReadStruct reads one struct from p with Thrift's own protocol code,
// calling fn for each field; a field fn does not consume (it returns false)
// is skipped, as Thrift's generated code would skip an unknown field.
func refReadStruct(ctx context.Context, p thrift.TProtocol, fn func(id int16, t thrift.TType) (bool, error)) error {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, t, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			return p.ReadStructEnd(ctx)
		}
		done, err := fn(id, t)
		if err == nil && !done {
			err = thrift.SkipDefaultDepth(ctx, p, t)
		}
		if err != nil {
			return err
		}
	}
}
