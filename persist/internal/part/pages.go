package part

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/parquet"
)

// Decode finds the pages of a column chunk in the part's bytes itself, by
// their headers, and decodes their values straight into the Decoded's
// buffers: a part uses only PLAIN values and PLAIN dictionaries with
// RLE_DICTIONARY (or the older PLAIN_DICTIONARY) indices, on uncompressed
// version 1 data pages of required columns, so the values of a page are
// its whole body, a slice of the part. Anything else is refused as corrupt.
// Going through arrow's page reader instead copied every page out of the
// part first, and arrow's typed decoders wrote a slice header per
// byte-array value to the heap and copied it again.

// idxBatch is how many dictionary indices are unpacked at a time.
const idxBatch = 1024

// chunkReader holds what decoding one column chunk needs besides its pages.
type chunkReader struct {
	hasDict   bool
	dictData  []byte   // what byte-array dictionary spans index: the part, or the page
	dictSpans []uint64 // value i is dictData[lo:hi], dictSpans[i] = span(lo, hi)
	dictInts  []int64
	idx       [idxBatch]uint32
	footer    footer // of the part being decoded
}

var chunkReaderPool = sync.Pool{New: func() any { return new(chunkReader) }}

// readColumn appends the rows values of one column chunk, whose pages are
// d.part[lo:hi]: an optional dictionary page first, then data pages, as many
// as hold the values and no more.
func (d *Decoded) readColumn(lo, hi int, rows int64, col int, cr *chunkReader) error {
	cr.hasDict, cr.dictData = false, nil
	chunk := d.part[lo:hi]
	for n, first := rows, true; n > 0; first = false {
		if len(chunk) == 0 {
			return fmt.Errorf("%d values missing", n)
		}
		h, body, rest, err := nextPage(chunk)
		if err != nil {
			return err
		}
		chunk = rest
		at := hi - len(rest) - len(body) // where body is in the part
		if h.typ == pageDictionary {
			if !first {
				return errors.New("a dictionary page after the first page")
			}
			if err := cr.setDict(body, at, h, col, d); err != nil {
				return fmt.Errorf("dictionary page: %w", err)
			}
			continue
		}
		nv := int64(h.numValues)
		if nv < 0 || nv > n {
			return fmt.Errorf("page of %d values where %d remain", nv, n)
		}
		switch h.encoding {
		case parquet.Encodings.Plain:
			err = d.plainValues(col, body, at, nv, cr)
		case parquet.Encodings.RLEDict, parquet.Encodings.PlainDict:
			err = d.dictValues(col, cr, body, nv)
		default:
			err = fmt.Errorf("unsupported encoding %s", h.encoding)
		}
		if err != nil {
			return fmt.Errorf("page of %d values: %w", nv, err)
		}
		n -= nv
	}
	if rows > 0 && len(chunk) > 0 {
		// (A chunk of no rows is left unread: Encode gives its data
		// page offset as 0.)
		return fmt.Errorf("%d bytes after the last value", len(chunk))
	}
	return nil
}

// nextPage splits the page at the start of chunk into its header and body
// and returns the rest of the chunk. readPageHeader has checked the page
// is a data or dictionary page. Its body is uncompressed, so both sizes
// must agree, and inside the chunk.
func nextPage(chunk []byte) (h pageHeader, body, rest []byte, err error) {
	h, n, err := readPageHeader(chunk)
	if err != nil {
		return h, nil, nil, err
	}
	chunk = chunk[n:]
	if h.compressed < 0 || h.compressed != h.uncompressed {
		return h, nil, nil, fmt.Errorf("%s of %d bytes, %d uncompressed, in an uncompressed chunk",
			pageTypeName(h.typ), h.compressed, h.uncompressed)
	}
	if int64(h.compressed) > int64(len(chunk)) {
		return h, nil, nil, fmt.Errorf("%s of %d bytes where %d remain in the chunk",
			pageTypeName(h.typ), h.compressed, len(chunk))
	}
	return h, chunk[:h.compressed:h.compressed], chunk[h.compressed:], nil
}

// column returns the byte-array column col, or nil for an int64 column.
func (d *Decoded) column(col int) *columnBytes {
	switch col {
	case colKey:
		return &d.keys
	case colVal:
		return &d.vals
	}
	return nil
}

// int64s returns the int64 column col.
func (d *Decoded) int64s(col int) *[]int64 {
	if col == colTime {
		return &d.times
	}
	return &d.diffs
}

var errShortPage = errors.New("page ends early")

// plainValues appends the nv values of a plain page, data, at in the part.
func (d *Decoded) plainValues(col int, data []byte, at int, nv int64, cr *chunkReader) error {
	if c := d.column(col); c != nil {
		if d.copied {
			return copyPlain(data, nv, c, cr.footer.widths[col])
		}
		return referPlain(data, at, nv, c, cr.footer.widths[col])
	}
	if nv > int64(len(data)/8) {
		return errShortPage
	}
	dst := d.int64s(col)
	out := slices.Grow(*dst, int(nv))
	for i := range int(nv) {
		out = append(out, int64(binary.LittleEndian.Uint64(data[8*i:])))
	}
	*dst = out
	return nil
}

// setDict reads a dictionary page, data at in the part: PLAIN values, as
// many as it says.
func (cr *chunkReader) setDict(data []byte, at int, h pageHeader, col int, d *Decoded) error {
	switch h.encoding {
	case parquet.Encodings.Plain, parquet.Encodings.PlainDict:
	default:
		return fmt.Errorf("unsupported encoding %s", h.encoding)
	}
	nv := int64(h.numValues)
	if nv < 0 {
		return fmt.Errorf("%d values", nv)
	}
	if col == colTime || col == colDiff {
		if nv > int64(len(data)/8) {
			return errShortPage
		}
		ints := slices.Grow(cr.dictInts[:0], int(nv))
		for i := range int(nv) {
			ints = append(ints, int64(binary.LittleEndian.Uint64(data[8*i:])))
		}
		cr.dictInts, cr.hasDict = ints, true
		return nil
	}
	// Spans index the part, whose values are referenced, or else the page,
	// whose values are copied.
	base, off := d.part, uint64(at)
	if d.copied {
		base, off = data, 0
	}
	if len(data) > math.MaxUint32 {
		return fmt.Errorf("%d bytes", len(data))
	}
	spans, err := appendSpans(cr.dictSpans[:0], data, off, nv)
	if err != nil {
		return err
	}
	cr.dictData, cr.dictSpans, cr.hasDict = base, spans, true
	return nil
}

// dictValues appends nv values given as dictionary indices: a bit width
// byte, then runs of the RLE/bit-packing hybrid encoding.
func (d *Decoded) dictValues(col int, cr *chunkReader, data []byte, nv int64) error {
	if !cr.hasDict {
		return errors.New("dictionary indices without a dictionary")
	}
	if nv == 0 {
		return nil
	}
	if len(data) == 0 {
		return errShortPage
	}
	if data[0] > 32 {
		return fmt.Errorf("index bit width %d", data[0])
	}
	h := hybrid{data: data[1:], width: uint(data[0])}
	c := d.column(col)
	for nv > 0 {
		if c == nil || !d.copied {
			// A run of one index is looked up once.
			if err := h.fill(); err != nil {
				return err
			}
			if h.rle {
				m := min(nv, h.left)
				var err error
				if c != nil {
					c.unfix()
					c.spans, err = cr.appendSpanRun(c.spans, h.val, m)
				} else {
					dst := d.int64s(col)
					*dst, err = cr.appendIntRun(*dst, h.val, m)
				}
				if err != nil {
					return err
				}
				h.left, nv = h.left-m, nv-m
				continue
			}
		}
		idx := cr.idx[:min(nv, idxBatch)]
		if err := h.read(idx); err != nil {
			return err
		}
		var err error
		if c != nil {
			err = cr.appendBytes(c, idx, d.copied)
		} else {
			dst := d.int64s(col)
			*dst, err = cr.appendInts(*dst, idx)
		}
		if err != nil {
			return err
		}
		nv -= int64(len(idx))
	}
	return nil
}

func (cr *chunkReader) appendInts(dst []int64, idx []uint32) ([]int64, error) {
	dict := cr.dictInts
	dst = slices.Grow(dst, len(idx))
	for _, i := range idx {
		if uint64(i) >= uint64(len(dict)) {
			return dst, fmt.Errorf("dictionary index %d of %d", i, len(dict))
		}
		dst = append(dst, dict[i])
	}
	return dst, nil
}

// appendIntRun appends n copies of dictionary value i.
func (cr *chunkReader) appendIntRun(dst []int64, i uint32, n int64) ([]int64, error) {
	if uint64(i) >= uint64(len(cr.dictInts)) {
		return dst, fmt.Errorf("dictionary index %d of %d", i, len(cr.dictInts))
	}
	return appendRun(dst, cr.dictInts[i], n), nil
}

// appendRun appends n copies of v, doubling a filled prefix by copy (a
// vectorized memmove) instead of storing one at a time.
func appendRun[T any](dst []T, v T, n int64) []T {
	if n <= 0 {
		return dst
	}
	start := len(dst)
	dst = slices.Grow(dst, int(n))[:start+int(n)]
	run := dst[start:]
	run[0] = v
	for filled := 1; filled < len(run); filled *= 2 {
		copy(run[filled:], run[:filled])
	}
	return dst
}
