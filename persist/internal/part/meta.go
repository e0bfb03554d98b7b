package part

import (
	"errors"
	"fmt"
)

// footer is what Decode and ReadStats use of a part's FileMetaData, read
// by readFooter with our own compact-protocol reader instead of arrow's
// generated Thrift code, which allocated a struct per schema element,
// column chunk and list and cost more than the rest of a small part's
// decoding. A footer is reused: readFooter overwrites it, keeping the
// capacity of groups.
type footer struct {
	numRows   int64
	schema    [numCols + 1]schemaElem // the root, then the leaves
	groups    []rowGroup
	encrypted bool   // encryption_algorithm is set
	stats     []byte // the value of the statsKey entry, aliasing the footer
	hasStats  bool   // such an entry with a value was found
	// widths is the widths hint of the key and val columns (noWidth
	// where there is none).
	widths [2]int64
}

// schemaElem is what checkSchema uses of a SchemaElement. Unset type and
// repetition read as 0 (BOOLEAN, REQUIRED), as arrow's defaults have them.
type schemaElem struct {
	name                    []byte // aliases the footer
	typ, repetition, childs int32
}

// rowGroup is what Decode uses of a RowGroup.
type rowGroup struct {
	numRows int64
	cols    [numCols]chunkMeta
}

// chunkMeta is what Decode uses of a ColumnChunk and its ColumnMetaData.
type chunkMeta struct {
	hasMeta   bool // meta_data is set
	encrypted bool // crypto_metadata is set
	hasDict   bool // dictionary_page_offset is set
	typ       int32
	codec     int32
	numValues int64

	uncompressed, compressed int64 // total sizes of the chunk's pages
	dataOffset, dictOffset   int64
}

// dropAliases forgets the slices of a part's bytes f holds, so that a
// pooled footer does not keep a part alive, and row groups beyond
// maxKeptGroups.
func (f *footer) dropAliases() {
	for i := range f.schema {
		f.schema[i].name = nil
	}
	f.stats = nil
	if cap(f.groups) > maxKeptGroups {
		f.groups = nil
	}
}

// maxKeptGroups bounds the row groups a pooled footer keeps room for, so
// that one hostile part cannot pin a large slice.
const maxKeptGroups = 64

// readFooter parses the FileMetaData b into f. It refuses what Decode
// cannot use even if Parquet allows it: a schema other than a root and
// four leaves, a row group of other than four columns, a field Decode
// reads (or Parquet requires) of the wrong type or given twice, lists of
// the wrong element type, and bytes after the struct. Everything else is
// skipped, bounded like the page header reader. It does not check values:
// open does.
func readFooter(b []byte, f *footer) error {
	groups := f.groups[:0]
	if cap(groups) > maxKeptGroups {
		groups = nil
	}
	*f = footer{groups: groups, widths: [2]int64{noWidth, noWidth}}
	r := compactReader{b: b}
	seen, err := r.walk(1, func(id int16, typ byte) (bool, error) {
		switch id {
		case 1: // version
			return false, want(id, typ, ctI32)
		case 2:
			if err := want(id, typ, ctList); err != nil {
				return false, err
			}
			return true, r.readSchema(f)
		case 3:
			if err := want(id, typ, ctI64); err != nil {
				return false, err
			}
			v, err := r.i64()
			f.numRows = v
			return true, err
		case 4:
			if err := want(id, typ, ctList); err != nil {
				return false, err
			}
			return true, r.readRowGroups(f)
		case 5:
			if err := want(id, typ, ctList); err != nil {
				return false, err
			}
			return true, r.readKeyValues(f)
		case 7: // column_orders
			return r.skipList(id, typ, ctStruct, 2)
		case 8:
			f.encrypted = true
			return false, want(id, typ, ctStruct)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if seen&0b11110 != 0b11110 {
		return errors.New("footer lacks its version, schema, row count or row groups")
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d bytes after the footer's metadata", len(r.b))
	}
	return nil
}

// readSchema reads the schema list: a root and four leaves.
func (r *compactReader) readSchema(f *footer) error {
	n, err := r.list(ctStruct)
	if err != nil {
		return err
	}
	if n != len(f.schema) {
		return fmt.Errorf("schema of %d elements, want %d", n, len(f.schema))
	}
	for i := range f.schema {
		e := &f.schema[i]
		seen, err := r.walk(3, func(id int16, typ byte) (bool, error) {
			switch id {
			case 1:
				return r.i32Field(id, typ, &e.typ)
			case 3:
				return r.i32Field(id, typ, &e.repetition)
			case 4:
				if err := want(id, typ, ctBinary); err != nil {
					return false, err
				}
				var err error
				e.name, err = r.binary()
				return true, err
			case 5:
				return r.i32Field(id, typ, &e.childs)
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("schema element %d: %w", i, err)
		}
		if seen&(1<<4) == 0 {
			return fmt.Errorf("schema element %d has no name", i)
		}
	}
	return nil
}

// readRowGroups reads the row group list into f.groups.
func (r *compactReader) readRowGroups(f *footer) error {
	n, err := r.list(ctStruct)
	if err != nil {
		return err
	}
	for g := range n {
		f.groups = append(f.groups, rowGroup{})
		rg := &f.groups[g]
		seen, err := r.walk(3, func(id int16, typ byte) (bool, error) {
			switch id {
			case 1:
				if err := want(id, typ, ctList); err != nil {
					return false, err
				}
				return true, r.readChunks(rg)
			case 2: // total_byte_size
				return false, want(id, typ, ctI64)
			case 3:
				return r.i64Field(id, typ, &rg.numRows)
			case 4: // sorting_columns
				return r.skipList(id, typ, ctStruct, 4)
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("row group %d: %w", g, err)
		}
		if seen&0b1110 != 0b1110 {
			return fmt.Errorf("row group %d lacks its columns, size or row count", g)
		}
	}
	return nil
}

// readChunks reads a row group's list of column chunks, which must be four.
func (r *compactReader) readChunks(rg *rowGroup) error {
	n, err := r.list(ctStruct)
	if err != nil {
		return err
	}
	if n != numCols {
		return fmt.Errorf("%d columns", n)
	}
	for c := range numCols {
		cc := &rg.cols[c]
		seen, err := r.walk(5, func(id int16, typ byte) (bool, error) {
			switch id {
			case 2: // file_offset
				return false, want(id, typ, ctI64)
			case 3:
				if err := want(id, typ, ctStruct); err != nil {
					return false, err
				}
				cc.hasMeta = true
				return true, r.readColumnMeta(cc)
			case 8:
				cc.encrypted = true
				return false, want(id, typ, ctStruct)
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("column %s: %w", colNames[c], err)
		}
		if seen&(1<<2) == 0 {
			return fmt.Errorf("column %s has no file offset", colNames[c])
		}
	}
	return nil
}

// readColumnMeta reads a ColumnMetaData.
func (r *compactReader) readColumnMeta(cc *chunkMeta) error {
	seen, err := r.walk(6, func(id int16, typ byte) (bool, error) {
		switch id {
		case 1:
			return r.i32Field(id, typ, &cc.typ)
		case 2: // encodings
			return r.skipList(id, typ, ctI32, 7)
		case 3: // path_in_schema
			return r.skipList(id, typ, ctBinary, 7)
		case 4:
			return r.i32Field(id, typ, &cc.codec)
		case 5:
			return r.i64Field(id, typ, &cc.numValues)
		case 6:
			return r.i64Field(id, typ, &cc.uncompressed)
		case 7:
			return r.i64Field(id, typ, &cc.compressed)
		case 8, 13: // key_value_metadata, encoding_stats
			return r.skipList(id, typ, ctStruct, 7)
		case 9:
			return r.i64Field(id, typ, &cc.dataOffset)
		case 11:
			cc.hasDict = true
			return r.i64Field(id, typ, &cc.dictOffset)
		case 16: // size_statistics: histograms
			return r.skipStructLists(id, typ, 7, ctI64, 2, 3)
		case 17: // geospatial_statistics: geospatial types
			return r.skipStructLists(id, typ, 7, ctI32, 2, 2)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if seen&0b1011111110 != 0b1011111110 {
		return errors.New("metadata lacks a required field")
	}
	return nil
}

// readKeyValues reads the footer's key-value list, keeping the value of
// the first entry of key statsKey and the widths of the first of key
// widthsKey.
func (r *compactReader) readKeyValues(f *footer) error {
	n, err := r.list(ctStruct)
	if err != nil {
		return err
	}
	found, foundWidths := false, false
	for i := range n {
		var key, val []byte
		seen, err := r.walk(3, func(id int16, typ byte) (bool, error) {
			switch id {
			case 1, 2:
				if err := want(id, typ, ctBinary); err != nil {
					return false, err
				}
				v, err := r.binary()
				if id == 1 {
					key = v
				} else {
					val = v
				}
				return true, err
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("key-value entry %d: %w", i, err)
		}
		if seen&(1<<1) == 0 {
			return fmt.Errorf("key-value entry %d has no key", i)
		}
		switch {
		case !found && string(key) == statsKey:
			found = true
			f.stats, f.hasStats = val, seen&(1<<2) != 0
		case !foundWidths && string(key) == widthsKey:
			foundWidths = true
			if f.widths, err = parseWidths(val); err != nil {
				return err
			}
		}
	}
	return nil
}
