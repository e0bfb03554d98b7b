package part

import (
	"encoding/binary"
	"errors"
)

// hybrid reads values of at most 32 bits from Parquet's RLE/bit-packing
// hybrid encoding: a sequence of runs, each a ULEB128 header h, then for
// h&1 == 0 one value (in ceil(width/8) little-endian bytes) repeated h>>1
// times, else h>>1 groups of 8 values bit-packed least significant bit
// first, width bytes per group. A bit-packed run cut short by the end of
// the data yields the values it has whole.
type hybrid struct {
	data  []byte // after the current run
	width uint   // bits per value, 0 to 32

	left   int64  // values left in the current run
	rle    bool   // the current run repeats val
	val    uint32 // for an RLE run
	packed []byte // for a bit-packed run: its bytes
	bit    uint64 // for a bit-packed run: the next value's bit offset
}

var errRuns = errors.New("dictionary indices end early")

// read fills dst with the next len(dst) values.
func (h *hybrid) read(dst []uint32) error {
	for len(dst) > 0 {
		if h.left == 0 {
			if err := h.nextRun(); err != nil {
				return err
			}
			continue
		}
		m := int(min(int64(len(dst)), h.left))
		if h.rle {
			for i := range m {
				dst[i] = h.val
			}
		} else {
			unpack(dst[:m], h.packed, h.bit, h.width)
			h.bit += uint64(m) * uint64(h.width)
		}
		dst, h.left = dst[m:], h.left-int64(m)
	}
	return nil
}

// fill makes sure a run with values left is current, unless there are
// none.
func (h *hybrid) fill() error {
	for h.left == 0 {
		if err := h.nextRun(); err != nil {
			return err
		}
	}
	return nil
}

func (h *hybrid) nextRun() error {
	hdr, k := binary.Uvarint(h.data)
	if k <= 0 {
		return errRuns
	}
	h.data = h.data[k:]
	if hdr&1 == 0 {
		nb := int(h.width+7) / 8
		if len(h.data) < nb {
			return errRuns
		}
		var v uint32
		for j := range nb {
			v |= uint32(h.data[j]) << (8 * j)
		}
		h.data = h.data[nb:]
		h.rle, h.val, h.left = true, v, int64(hdr>>1)
		return nil
	}
	groups := hdr >> 1
	if h.width == 0 {
		h.rle, h.val, h.left = true, 0, int64(min(groups, 1<<59)*8)
		return nil
	}
	n := uint64(len(h.data))
	if groups <= n { // no overflow: width <= 32
		n = min(n, groups*uint64(h.width))
	}
	h.rle, h.packed, h.bit = false, h.data[:n], 0
	h.left = int64(n * 8 / uint64(h.width))
	h.data = h.data[n:]
	return nil
}

// unpack reads len(dst) values of width bits from src starting at bit;
// src holds them all.
func unpack(dst []uint32, src []byte, bit uint64, width uint) {
	mask := uint64(1)<<width - 1
	for i := range dst {
		at, shift := bit>>3, bit&7
		var w uint64
		if at+8 <= uint64(len(src)) {
			w = binary.LittleEndian.Uint64(src[at:])
		} else {
			for j := uint64(0); at+j < uint64(len(src)); j++ {
				w |= uint64(src[at+j]) << (8 * j)
			}
		}
		dst[i] = uint32(w >> shift & mask)
		bit += uint64(width)
	}
}
