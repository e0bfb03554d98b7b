package part

import (
	"errors"
	"fmt"
	"math/bits"
)

// compactReader reads the few things a page header or a footer needs from
// Thrift's compact protocol: field headers, integers, binaries, list
// headers, and any value it skips.
// The input is untrusted. Every read is bounded by the bytes left, every
// value and field skipped consumes at least one byte, and structs nest at
// most maxNesting deep, so reading ends, in time linear in the input, with
// a value or an error; nothing is allocated.
//
// The encoding, as Thrift's compact protocol specification gives it: a
// struct is a sequence of fields ended by a zero byte. A field header byte
// holds a field id delta (high nibble, from the previous field of the same
// struct; 0 means a zigzag varint id follows) and a type (low nibble); a
// bool field's value is its type (1 true, 2 false). Integers are zigzag
// ULEB128 varints, doubles 8 bytes, binaries a varint length and the bytes,
// a UUID 16 bytes. A list or set starts with a byte of size (high nibble,
// 15 means a varint size follows) and element type (low nibble); a map with
// a varint size and, if not empty, a byte of key and value types. Bools
// inside a collection take one byte each.
type compactReader struct {
	b []byte // what is left to read
}

// Compact protocol type codes.
const (
	ctStop   = 0
	ctTrue   = 1
	ctFalse  = 2
	ctByte   = 3
	ctI16    = 4
	ctI32    = 5
	ctI64    = 6
	ctDouble = 7
	ctBinary = 8
	ctList   = 9
	ctSet    = 10
	ctMap    = 11
	ctStruct = 12
	ctUUID   = 13
)

// maxNesting bounds how deep skipped structs and collections may nest. A
// page header nests three deep (header, data page header, statistics), a
// footer about six (file, row groups, column chunk, column metadata,
// statistics or size statistics, their lists).
const maxNesting = 32

var errThriftShort = errors.New("compact Thrift value ends early")

func (r *compactReader) byte() (byte, error) {
	if len(r.b) == 0 {
		return 0, errThriftShort
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

// uvarint reads an unsigned LEB128 varint of at most 64 bits.
func (r *compactReader) uvarint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 9 && c > 1 {
			break
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("compact Thrift varint overflows 64 bits")
}

// i32 reads a zigzag varint that must fit in 32 bits.
func (r *compactReader) i32() (int32, error) {
	u, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if u > 0xffffffff {
		return 0, fmt.Errorf("compact Thrift i32 of %d bits", bits.Len64(u))
	}
	return int32(uint32(u>>1) ^ -uint32(u&1)), nil
}

// i64 reads a zigzag varint.
func (r *compactReader) i64() (int64, error) {
	u, err := r.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

// binary reads a length-prefixed binary; the slice aliases the input.
func (r *compactReader) binary() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, errThriftShort
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, nil
}

// list reads the header of a list or set of elements of type elem, which
// must be its declared type, and returns its size. Every element takes at
// least a byte, so a size beyond the bytes left is an error.
func (r *compactReader) list(elem byte) (int, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	n := uint64(c >> 4)
	if n == 15 {
		if n, err = r.uvarint(); err != nil {
			return 0, err
		}
	}
	if c&0x0f != elem {
		return 0, fmt.Errorf("compact Thrift list of type %d, want %d", c&0x0f, elem)
	}
	if n > uint64(len(r.b)) {
		return 0, errThriftShort
	}
	return int(n), nil
}

// field reads a field header of a struct whose previous field was last. It
// returns typ ctStop at the end of the struct.
func (r *compactReader) field(last int16) (id int16, typ byte, err error) {
	c, err := r.byte()
	if err != nil {
		return 0, 0, err
	}
	typ = c & 0x0f
	if typ == ctStop {
		if c != 0 {
			return 0, 0, fmt.Errorf("compact Thrift field stop byte %#x", c)
		}
		return 0, ctStop, nil
	}
	if delta := int16(c >> 4); delta != 0 {
		return last + delta, typ, nil
	}
	u, err := r.uvarint()
	if err != nil {
		return 0, 0, err
	}
	if u > 0xffff {
		return 0, 0, fmt.Errorf("compact Thrift field id %d", u)
	}
	return int16(uint16(u>>1) ^ -uint16(u&1)), typ, nil
}

// take skips n bytes.
func (r *compactReader) take(n uint64) error {
	if n > uint64(len(r.b)) {
		return errThriftShort
	}
	r.b = r.b[n:]
	return nil
}

// skip skips a value of type typ, nested depth deep. elem says whether the
// value is a collection's element, where a bool takes a byte; as a field
// it takes none.
func (r *compactReader) skip(typ byte, elem bool, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("compact Thrift value nests deeper than %d", maxNesting)
	}
	switch typ {
	case ctTrue, ctFalse:
		if elem {
			return r.take(1)
		}
		return nil
	case ctByte:
		return r.take(1)
	case ctI16, ctI32, ctI64:
		_, err := r.uvarint()
		return err
	case ctDouble:
		return r.take(8)
	case ctUUID:
		return r.take(16)
	case ctBinary:
		n, err := r.uvarint()
		if err != nil {
			return err
		}
		return r.take(n)
	case ctList, ctSet:
		c, err := r.byte()
		if err != nil {
			return err
		}
		n := uint64(c >> 4)
		if n == 15 {
			if n, err = r.uvarint(); err != nil {
				return err
			}
		}
		if c&0x0f == ctStop || c&0x0f > ctUUID {
			return fmt.Errorf("compact Thrift collection of type %d", c&0x0f)
		}
		return r.skipElems(n, c&0x0f, ctStop, depth)
	case ctMap:
		n, err := r.uvarint()
		if err != nil || n == 0 {
			return err
		}
		c, err := r.byte()
		if err != nil {
			return err
		}
		if c>>4 == ctStop || c&0x0f == ctStop {
			return fmt.Errorf("compact Thrift map types %#x", c)
		}
		return r.skipElems(n, c>>4, c&0x0f, depth)
	case ctStruct:
		var last int16
		for {
			id, t, err := r.field(last)
			if err != nil || t == ctStop {
				return err
			}
			if err := r.skip(t, false, depth+1); err != nil {
				return err
			}
			last = id
		}
	}
	return fmt.Errorf("compact Thrift value of unknown type %d", typ)
}

// skipElems skips n elements of type a, each followed by one of type b
// unless b is ctStop (a map's entries, else a list's or set's elements).
// Every element takes at least a byte, so n beyond the bytes left is an
// error before anything is read.
func (r *compactReader) skipElems(n uint64, a, b byte, depth int) error {
	if n > uint64(len(r.b)) {
		return errThriftShort
	}
	for range n {
		if err := r.skip(a, true, depth+1); err != nil {
			return err
		}
		if b != ctStop {
			if err := r.skip(b, true, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// walk reads the fields of a struct, depth deep, up to its stop. It hands
// each field to fn, which reads the value of a field it knows and returns
// true, or returns false to have the value skipped. It returns which of
// the fields 0 to 63 it read, and refuses one of them given twice.
func (r *compactReader) walk(depth int, fn func(id int16, typ byte) (bool, error)) (seen uint64, err error) {
	if depth > maxNesting {
		return 0, fmt.Errorf("compact Thrift value nests deeper than %d", maxNesting)
	}
	var last int16
	for {
		id, typ, err := r.field(last)
		if err != nil || typ == ctStop {
			return seen, err
		}
		last = id
		if id >= 0 && id < 64 {
			if seen&(1<<id) != 0 {
				return seen, fmt.Errorf("field %d given twice", id)
			}
			seen |= 1 << id
		}
		read, err := fn(id, typ)
		if err == nil && !read {
			err = r.skip(typ, false, depth)
		}
		if err != nil {
			return seen, err
		}
	}
}

// want checks that field id has type typ.
func want(id int16, typ, want byte) error {
	if typ != want {
		return fmt.Errorf("field %d of type %d, want %d", id, typ, want)
	}
	return nil
}

// skipList skips a list field whose elements must be of type elem: arrow
// reads them as Parquet declares them, whatever the list says.
func (r *compactReader) skipList(id int16, typ, elem byte, depth int) (bool, error) {
	if err := want(id, typ, ctList); err != nil {
		return false, err
	}
	n, err := r.list(elem)
	if err == nil {
		err = r.skipElems(uint64(n), elem, ctStop, depth)
	}
	return true, err
}

// skipStructLists skips a struct field whose list fields lo to hi must
// hold elements of type elem, for the same reason as skipList.
func (r *compactReader) skipStructLists(id int16, typ byte, depth int, elem byte, lo, hi int16) (bool, error) {
	if err := want(id, typ, ctStruct); err != nil {
		return false, err
	}
	_, err := r.walk(depth+1, func(id int16, typ byte) (bool, error) {
		if id >= lo && id <= hi && typ == ctList {
			return r.skipList(id, typ, elem, depth+2)
		}
		return false, nil
	})
	return true, err
}

// i32Field reads field id, which must be an i32, into v.
func (r *compactReader) i32Field(id int16, typ byte, v *int32) (bool, error) {
	if err := want(id, typ, ctI32); err != nil {
		return false, err
	}
	var err error
	*v, err = r.i32()
	return true, err
}

// i64Field reads field id, which must be an i64, into v.
func (r *compactReader) i64Field(id int16, typ byte, v *int64) (bool, error) {
	if err := want(id, typ, ctI64); err != nil {
		return false, err
	}
	var err error
	*v, err = r.i64()
	return true, err
}
