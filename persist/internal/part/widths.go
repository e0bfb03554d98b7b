package part

import (
	"bytes"
	"fmt"
	"strconv"
)

// The widths entry: a writer's word that every key, or every value, of a
// part has one length. Decode then takes a plain page of such values as a
// fixed run on the strength of its size alone, without first reading every
// length prefix to check (a pass over the whole column that cost about a
// fifth of a fetch). The entry is only a hint: a part without it, or with
// one of a version this reader does not know, decodes as before, checking
// each length; and one whose page sizes do not fit it is checked too.
//
// What the hint cannot be is checked by Decode: a page of values of other
// lengths whose sizes add up as if they had that one (4, 3 and 5 bytes
// where it says 4) would decode to other values, never out of the page.
// Only Encode writes the entry, from the values it encodes, and the
// part's checksum, which a reader verifies before it uses the rows, keeps
// any other bytes from being taken for a part: the same guarantee that
// covers a flipped bit inside a value, which Decode cannot catch either.

// widthsKey names the footer key-value entry of the widths hint. Its value
// is "v1 K V": K the length of every key and V of every value, in decimal,
// or "-" where lengths differ (or there are no rows).
const widthsKey = "shardflow.part.widths"

const widthsVersion = "v1"

// noWidth is the width of a column whose values have different lengths, or
// whose width is not known.
const noWidth = -1

// widthOf returns the length every value of col (colKey or colVal) has in
// updates, or noWidth.
func widthOf(updates []Update, col int) int64 {
	if len(updates) == 0 {
		return noWidth
	}
	at := func(i int) []byte {
		if col == colKey {
			return updates[i].Key
		}
		return updates[i].Val
	}
	w := len(at(0))
	for i := 1; i < len(updates); i++ {
		if len(at(i)) != w {
			return noWidth
		}
	}
	return int64(w)
}

// marshalWidths renders the widths entry's value.
func marshalWidths(key, val int64) string {
	f := func(w int64) string {
		if w < 0 {
			return "-"
		}
		return strconv.FormatInt(w, 10)
	}
	return widthsVersion + " " + f(key) + " " + f(val)
}

// parseWidths reads the widths entry's value. A value of another version
// gives no widths (a later writer may say more, or something else); a
// malformed v1 value is corrupt.
func parseWidths(v []byte) ([2]int64, error) {
	none := [2]int64{noWidth, noWidth}
	rest, ok := bytes.CutPrefix(v, []byte(widthsVersion+" "))
	if !ok {
		return none, nil
	}
	key, val, ok := bytes.Cut(rest, []byte(" "))
	kw, kok := parseWidth(key)
	vw, vok := parseWidth(val)
	if !ok || !kok || !vok {
		return none, fmt.Errorf("%w: widths entry %.32q", ErrCorrupt, v)
	}
	return [2]int64{kw, vw}, nil
}

// parseWidth reads b, all of it: "-", or a decimal width below 2^32 with
// no leading zero.
func parseWidth(b []byte) (int64, bool) {
	if string(b) == "-" {
		return noWidth, true
	}
	if len(b) == 0 || len(b) > 10 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var w int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		w = w*10 + int64(c-'0')
	}
	return w, w <= 1<<32-1
}
