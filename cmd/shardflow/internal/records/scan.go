package records

import (
	"strconv"
	"unicode/utf8"
)

// The fields of a JSONL line, in the order scanLine keeps their values.
const (
	fieldKey = iota
	fieldVal
	fieldTime
	fieldDiff
	numFields
)

// scanLine is parseJSONLine's fast path: one pass over the top level of the
// line, with no map and no reflection, that finds the raw value of each
// field and checks the JSON syntax around and of them. It takes a line (ok)
// only if decodeLine would accept it, and then returns the Record decodeLine
// would; any other line, malformed or merely unusual (a field name written
// with escapes, say), it leaves to decodeLine, which accepts it or says what
// is wrong. FuzzScanLine holds it to that. Scalars written canonically are
// kept as they are; other values go through canonicalValue.
func scanLine(text []byte) (Record, bool) {
	if !utf8.Valid(text) {
		return Record{}, false
	}
	var raw [numFields][]byte
	i := skipSpace(text, 0)
	if i == len(text) || text[i] != '{' {
		return Record{}, false
	}
	for i++; ; i++ {
		i = skipSpace(text, i)
		f, end := fieldName(text, i)
		if f < 0 || raw[f] != nil {
			return Record{}, false // unknown or twice: decodeLine says which
		}
		i = skipSpace(text, end)
		if i == len(text) || text[i] != ':' {
			return Record{}, false
		}
		i = skipSpace(text, i+1)
		if end = valueEnd(text, i); end < 0 {
			return Record{}, false
		}
		raw[f] = text[i:end]
		i = skipSpace(text, end)
		if i == len(text) {
			return Record{}, false
		}
		if text[i] == '}' {
			break
		}
		if text[i] != ',' {
			return Record{}, false
		}
	}
	if skipSpace(text, i+1) != len(text) {
		return Record{}, false
	}
	if raw[fieldKey] == nil || raw[fieldVal] == nil || raw[fieldTime] == nil {
		return Record{}, false
	}
	var rec Record
	var err error
	if rec.Time, err = strconv.ParseUint(string(raw[fieldTime]), 10, 64); err != nil {
		return Record{}, false
	}
	rec.Diff = 1
	if raw[fieldDiff] != nil {
		if rec.Diff, err = strconv.ParseInt(string(raw[fieldDiff]), 10, 64); err != nil {
			return Record{}, false
		}
	}
	key, keyOwned, ok := canonicalValue(raw[fieldKey])
	if !ok {
		return Record{}, false
	}
	val, valOwned, ok := canonicalValue(raw[fieldVal])
	if !ok {
		return Record{}, false
	}
	// A scalar is a slice of text: copy it out, so that a Record holds no
	// more than its own bytes, and appending to Key cannot overwrite Val.
	n := 0
	if !keyOwned {
		n += len(key)
	}
	if !valOwned {
		n += len(val)
	}
	buf := make([]byte, n)
	if !keyOwned {
		k := copy(buf, key)
		key, buf = buf[:k:k], buf[k:]
	}
	if !valOwned {
		copy(buf, val)
		val = buf
	}
	rec.Key, rec.Val = key, val
	return rec, true
}

// canonicalValue is Canonical for a value with no whitespace around it,
// which is also checked for duplicate members: scalars as written, others
// by fastCanonical. What fastCanonical leaves (a member twice, nesting
// deeper than maxCanonDepth, bad syntax) is not ok, and so left to
// decodeLine: decoding the value alone is not enough, as the decoder's
// depth limit counts the line's own object too (a value 10000 deep decodes
// alone, but its line does not). owned says the result is a new slice
// rather than b itself.
func canonicalValue(b []byte) (c []byte, owned, ok bool) {
	if c, ok := canonicalTrimmed(b); ok {
		return c, false, true
	}
	if c, ok := fastCanonical(b); ok {
		return c, true, true
	}
	return nil, false, false
}

// skipSpace returns the index of the first byte of b from i on that is not
// JSON whitespace, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// fieldName reads the member name that opens at b[i]. It returns the field
// it names, or -1 if it is not a field or is written with escapes, and the
// index after its closing quote.
func fieldName(b []byte, i int) (field, end int) {
	if i == len(b) || b[i] != '"' {
		return -1, i
	}
	j := i + 1
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
		j++
	}
	if j == len(b) || b[j] != '"' {
		return -1, j
	}
	switch string(b[i+1 : j]) {
	case "key":
		return fieldKey, j + 1
	case "val":
		return fieldVal, j + 1
	case "time":
		return fieldTime, j + 1
	case "diff":
		return fieldDiff, j + 1
	}
	return -1, j + 1
}

// valueEnd returns the index just after the JSON value that starts at b[i],
// or -1 if there is none. A string, number or literal is checked in full; an
// object or array only for where it ends: canonicalValue decodes it.
func valueEnd(b []byte, i int) int {
	if i == len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		j := i + 1
		for j < len(b) && isNumberByte(b[j]) {
			j++
		}
		if !isJSONNumber(b[i:j]) {
			return -1
		}
		return j
	case c == 't':
		return literalEnd(b, i, "true")
	case c == 'f':
		return literalEnd(b, i, "false")
	case c == 'n':
		return literalEnd(b, i, "null")
	case c == '{' || c == '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			case '"':
				e := scanString(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			}
		}
	}
	return -1
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

func literalEnd(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// scanString returns the index just after the JSON string that opens at
// b[i], or -1 if it is not one: unterminated, a control character, or a
// bad escape.
func scanString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i == len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i <= 4 {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}
