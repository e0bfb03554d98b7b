package part

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
)

// Parquet page types, as parquet.thrift numbers them.
const (
	pageData       = 0
	pageIndex      = 1
	pageDictionary = 2
	pageDataV2     = 3
)

var pageTypeNames = [...]string{"DATA_PAGE", "INDEX_PAGE", "DICTIONARY_PAGE", "DATA_PAGE_V2"}

func pageTypeName(t int32) string {
	if t >= 0 && int(t) < len(pageTypeNames) {
		return pageTypeNames[t]
	}
	return fmt.Sprintf("page type %d", t)
}

// pageHeader is what Decode uses of a Parquet PageHeader: its type, sizes,
// and the value count and encoding of its data or dictionary page header,
// whichever the type calls for. The rest (CRC, statistics, level
// encodings, sort order, fields Parquet may add) is skipped.
type pageHeader struct {
	typ                      int32
	uncompressed, compressed int32
	numValues                int32
	encoding                 parquet.Encoding
}

// readPageHeader parses the page header at the start of b and returns it
// with its length in bytes. It checks that the fields Decode uses are there
// and have the right types, not their values.
func readPageHeader(b []byte) (pageHeader, int, error) {
	r := compactReader{b: b}
	var h pageHeader
	var sub [8]struct { // by field id: 5 data page, 7 dictionary page
		nv  int32
		enc parquet.Encoding
	}
	var seen uint8 // bit 1<<id for each field read
	var last int16
	for {
		id, typ, err := r.field(last)
		if err != nil {
			return h, 0, err
		}
		if typ == ctStop {
			break
		}
		last = id
		switch {
		case id >= 1 && id <= 3 && typ == ctI32:
			v, err := r.i32()
			if err != nil {
				return h, 0, err
			}
			switch id {
			case 1:
				h.typ = v
			case 2:
				h.uncompressed = v
			case 3:
				h.compressed = v
			}
		case (id == 5 || id == 7) && typ == ctStruct:
			if sub[id].nv, sub[id].enc, err = r.subHeader(); err != nil {
				return h, 0, err
			}
		case id >= 1 && id <= 3 || id == 5 || id == 7:
			return h, 0, fmt.Errorf("page header field %d of type %d", id, typ)
		default:
			if err := r.skip(typ, false, 1); err != nil {
				return h, 0, err
			}
			continue
		}
		seen |= 1 << id
	}
	if seen&0b1110 != 0b1110 {
		return h, 0, errors.New("page header lacks its type or sizes")
	}
	var want int16
	switch h.typ {
	case pageData:
		want = 5
	case pageDictionary:
		want = 7
	default:
		return h, 0, fmt.Errorf("unsupported %s", pageTypeName(h.typ))
	}
	if seen&(1<<want) == 0 {
		return h, 0, fmt.Errorf("%s without its header", pageTypeName(h.typ))
	}
	h.numValues, h.encoding = sub[want].nv, sub[want].enc
	return h, len(b) - len(r.b), nil
}

// subHeader reads a DataPageHeader or DictionaryPageHeader struct, both of
// which have num_values as field 1 and encoding as field 2, and skips the
// rest.
func (r *compactReader) subHeader() (nv int32, enc parquet.Encoding, err error) {
	var seen uint8
	var last int16
	for {
		id, typ, err := r.field(last)
		if err != nil {
			return 0, 0, err
		}
		if typ == ctStop {
			break
		}
		last = id
		switch {
		case (id == 1 || id == 2) && typ == ctI32:
			v, err := r.i32()
			if err != nil {
				return 0, 0, err
			}
			if id == 1 {
				nv = v
			} else {
				enc = parquet.Encoding(v)
			}
			seen |= 1 << id
		case id == 1 || id == 2:
			return 0, 0, fmt.Errorf("page header field %d of type %d", id, typ)
		default:
			if err := r.skip(typ, false, 2); err != nil {
				return 0, 0, err
			}
		}
	}
	if seen != 0b110 {
		return 0, 0, errors.New("page header lacks num_values or encoding")
	}
	return nv, enc, nil
}
