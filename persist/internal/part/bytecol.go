package part

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Byte-array values: a Decoded references them in the part (spans of the
// part's bytes), or for a part too large for 32-bit spans copies them into
// the column's own buffer (spans of that).

// appendSpans appends the spans of nv length-prefixed values in data,
// offset by off. The spans grow by at most a fourth of data's length.
//
// Parsing the values one after the other is a chain of dependent loads
// (each length gives the next one's position). Values of one length, such
// as fixed-width keys, lie at a fixed stride instead, so while each length
// prefix matches the first one, the values are read as independent loads;
// from the first that does not, parsing goes on one after the other.
func appendSpans(spans []uint64, data []byte, off uint64, nv int64) ([]uint64, error) {
	n := uint64(len(data))
	if nv > int64(n/4) {
		return spans, errShortPage
	}
	start := len(spans)
	spans = slices.Grow(spans, int(nv))[:start+int(nv)]
	out := spans[start:]
	k, pos := 0, uint64(0)
	if len(out) > 0 {
		l := uint64(binary.LittleEndian.Uint32(data))
		k = strideSpans(out, data, off, l)
		pos = uint64(k) * (4 + l)
	}
	for ; k < len(out); k++ {
		if n-pos < 4 {
			return spans[:start], errShortPage
		}
		l := uint64(binary.LittleEndian.Uint32(data[pos:]))
		if l > n-pos-4 {
			return spans[:start], errShortPage
		}
		lo := off + pos + 4
		out[k] = span(lo, lo+l)
		pos += 4 + l
	}
	return spans, nil
}

// strideSpans sets the spans of the values of length l at the start of
// data, at a stride of 4+l bytes, as long as they have that length and fit
// in data, up to len(out). It returns how many it set.
func strideSpans(out []uint64, data []byte, off, l uint64) int {
	stride := 4 + l
	if stride > uint64(len(data)) {
		return 0
	}
	// Values k < m have their whole slot in data.
	m := min(len(out), int(uint64(len(data))/stride))
	out = out[:m]
	p := uint64(0)
	for k := range out {
		if uint64(binary.LittleEndian.Uint32(data[p:])) != l {
			return k
		}
		lo := off + p + 4
		out[k] = span(lo, lo+l)
		p += stride
	}
	return m
}

// strideMatch returns how many of the values at the start of data, up to
// n, have length l and are at a stride of 4+l bytes, whole.
func strideMatch(data []byte, l uint64, n int) int {
	stride := 4 + l
	m := min(n, int(uint64(len(data))/stride))
	p := uint64(0)
	for k := range m {
		if uint64(binary.LittleEndian.Uint32(data[p:])) != l {
			return k
		}
		p += stride
	}
	return m
}

// unfix turns a fixed run into spans, before other values are appended.
func (c *columnBytes) unfix() {
	f := c.fixed
	if f.n == 0 {
		return
	}
	c.spans = slices.Grow(c.spans[:0], f.n)[:f.n]
	lo := f.lo
	for k := range c.spans {
		c.spans[k] = span(lo, lo+f.width)
		lo += f.stride
	}
	c.fixed = fixedRun{}
}

// referPlain appends the nv values of a plain page, data, at in the part,
// as spans of the part, or as a fixed run if they are the column's first
// values and all of one length: which the writer's width hint says (when
// the page is exactly the size nv values of that length make), or else
// every length prefix has to show.
func referPlain(data []byte, at int, nv int64, c *columnBytes, width int64) error {
	fixed := hinted(data, nv, width)
	if len(c.spans) == 0 && c.fixed.n == 0 && nv > 0 && nv <= int64(len(data)/4) {
		l := uint64(binary.LittleEndian.Uint32(data))
		if fixed || strideMatch(data, l, int(nv)) == int(nv) {
			c.fixed = fixedRun{n: int(nv), rows: make([]struct{}, nv), lo: uint64(at) + 4, stride: 4 + l, width: l}
			return nil
		}
	}
	c.unfix()
	if fixed {
		w := uint64(width)
		c.spans = slices.Grow(c.spans, int(nv))
		for lo := uint64(at) + 4; nv > 0; nv-- {
			c.spans = append(c.spans, span(lo, lo+w))
			lo += 4 + w
		}
		return nil
	}
	spans, err := appendSpans(c.spans, data, uint64(at), nv)
	if err != nil {
		return err
	}
	c.spans = spans
	return nil
}

// hinted reports whether the nv values of a plain page, data, are to be
// taken as all of length width, the writer's hint, without reading their
// lengths: the first has that length and the page is the size nv such
// values make.
func hinted(data []byte, nv int64, width int64) bool {
	return width >= 0 && nv > 0 && nv <= int64(len(data)/4) &&
		uint64(binary.LittleEndian.Uint32(data)) == uint64(width) &&
		uint64(len(data)) == uint64(nv)*(4+uint64(width))
}

// copyPlain appends copies of the nv values of a plain page. The buffer
// grows by at most the page's size at once. A page the width hint fits is
// read at its stride, like referPlain reads it.
func copyPlain(data []byte, nv int64, c *columnBytes, width int64) error {
	c.unfix()
	if nv > int64(len(data)/4) {
		return errShortPage
	}
	fixed := hinted(data, nv, width)
	out := slices.Grow(c.own, len(data)-4*int(nv))
	spans := slices.Grow(c.spans, int(nv))
	for range nv {
		if len(data) < 4 {
			return errShortPage
		}
		l := uint64(binary.LittleEndian.Uint32(data))
		if fixed {
			l = uint64(width)
		}
		if l > uint64(len(data)-4) {
			return errShortPage
		}
		lo := uint64(len(out))
		out = appendValue(out, data[4:], int(l))
		if len(out) > maxColumnBytes {
			return fmt.Errorf("column exceeds %d bytes", uint64(maxColumnBytes))
		}
		spans = append(spans, span(lo, uint64(len(out))))
		data = data[4+l:]
	}
	c.own, c.spans = out, spans
	return nil
}

// appendBytes appends the dictionary values idx: their spans, if they are
// referenced, else copies of them.
func (cr *chunkReader) appendBytes(c *columnBytes, idx []uint32, copied bool) error {
	c.unfix()
	dict := cr.dictSpans
	if !copied {
		spans := slices.Grow(c.spans, len(idx))
		for _, i := range idx {
			if uint64(i) >= uint64(len(dict)) {
				return fmt.Errorf("dictionary index %d of %d", i, len(dict))
			}
			spans = append(spans, dict[i])
		}
		c.spans = spans
		return nil
	}
	total := uint64(len(c.own))
	for _, i := range idx {
		if uint64(i) >= uint64(len(dict)) {
			return fmt.Errorf("dictionary index %d of %d", i, len(dict))
		}
		total += dict[i]>>32 - uint64(uint32(dict[i]))
	}
	if total > maxColumnBytes {
		return fmt.Errorf("column exceeds %d bytes", uint64(maxColumnBytes))
	}
	out := slices.Grow(c.own, int(total)-len(c.own))
	spans := slices.Grow(c.spans, len(idx))
	for _, i := range idx {
		lo, hi := uint32(dict[i]), uint32(dict[i]>>32)
		start := uint64(len(out))
		out = appendValue(out, cr.dictData[lo:], int(hi-lo))
		spans = append(spans, span(start, uint64(len(out))))
	}
	c.own, c.spans = out, spans
	return nil
}

// appendSpanRun appends n copies of referenced dictionary value i.
func (cr *chunkReader) appendSpanRun(spans []uint64, i uint32, n int64) ([]uint64, error) {
	if uint64(i) >= uint64(len(cr.dictSpans)) {
		return spans, fmt.Errorf("dictionary index %d of %d", i, len(cr.dictSpans))
	}
	return appendRun(spans, cr.dictSpans[i], n), nil
}

// appendValue appends src[:n] to dst. Values of up to 16 bytes, the common
// case, are moved as one 16-byte block (spilling into dst's spare capacity,
// which the next value overwrites) instead of by a call to memmove.
func appendValue(dst, src []byte, n int) []byte {
	if k := len(dst); n <= 16 && len(src) >= 16 && cap(dst)-k >= 16 {
		*(*[16]byte)(dst[k : k+16]) = *(*[16]byte)(src)
		return dst[:k+n]
	}
	return append(dst, src[:n]...)
}
