package records

import (
	"bytes"
	"slices"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxCanonDepth bounds the nesting appendCanonical recurses into; deeper
// values are left to decodeCanonical.
const maxCanonDepth = 64

// fastCanonical is decodeCanonical without the decoder, for b holding
// exactly one JSON value of UTF-8 with no whitespace around it: it checks
// the value's syntax and writes it canonically (compact, object members
// sorted by name, strings escaped as encoding/json escapes them with HTML
// escaping off, numbers as written). ok is false if b is not such a value,
// or is one it leaves to decodeCanonical: an object with a member twice
// (which decoding would quietly collapse) or nesting deeper than
// maxCanonDepth. FuzzCanonical holds it to decodeCanonical.
func fastCanonical(b []byte) ([]byte, bool) {
	if !utf8.Valid(b) {
		return nil, false
	}
	out, end, ok := appendCanonical(make([]byte, 0, len(b)), b, 0, 0)
	if !ok || end != len(b) {
		return nil, false
	}
	return tight(out), true
}

// tight returns b, or a copy of it if b holds much more memory than its
// length. A canonical value can be far shorter than the text it was read
// from (whitespace, escapes), and a Record's Key and Val are counted by
// their length where memory is bounded (persist's BatchBuilder): without
// this, a line of a few padded megabytes would hold them all for a few
// bytes counted.
func tight(b []byte) []byte {
	if cap(b)-len(b) > len(b)/4+32 {
		return bytes.Clone(b)
	}
	return b
}

// appendCanonical appends the canonical form of the value at b[i] to dst
// and returns the index just after the value.
func appendCanonical(dst, b []byte, i, depth int) ([]byte, int, bool) {
	if i == len(b) || depth > maxCanonDepth {
		return dst, i, false
	}
	switch b[i] {
	case '{':
		return appendObject(dst, b, i, depth)
	case '[':
		return appendArray(dst, b, i, depth)
	case '"':
		end := scanString(b, i)
		if end < 0 {
			return dst, i, false
		}
		if bytes.IndexByte(b[i:end], '\\') < 0 {
			return appendString(dst, b[i+1:end-1]), end, true
		}
		text, ok := unquote(b[i:end])
		if !ok {
			return dst, i, false // a lone surrogate: checkEscapes says so
		}
		return appendString(dst, text), end, true
	}
	end := valueEnd(b, i) // a number or a literal: canonical as written
	if end < 0 {
		return dst, i, false
	}
	return append(dst, b[i:end]...), end, true
}

func appendArray(dst, b []byte, i, depth int) ([]byte, int, bool) {
	dst = append(dst, '[')
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return append(dst, ']'), i + 1, true
	}
	for {
		var ok bool
		if dst, i, ok = appendCanonical(dst, b, i, depth+1); !ok {
			return dst, i, false
		}
		i = skipSpace(b, i)
		if i == len(b) {
			return dst, i, false
		}
		switch b[i] {
		case ']':
			return append(dst, ']'), i + 1, true
		case ',':
			dst = append(dst, ',')
			i = skipSpace(b, i+1)
		default:
			return dst, i, false
		}
	}
}

// A member of an object being canonicalized: its name, unescaped, and where
// its canonical value was written in dst.
type member struct {
	name       []byte
	start, end int
}

func appendObject(dst, b []byte, i, depth int) ([]byte, int, bool) {
	// The values are written to dst as they come, then again, sorted by
	// name, after them, and the sorted copy moved down over the first.
	base := len(dst)
	var small [8]member
	members := small[:0]
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return append(dst, '{', '}'), i + 1, true
	}
	for {
		if i == len(b) || b[i] != '"' {
			return dst, i, false
		}
		end := scanString(b, i)
		if end < 0 {
			return dst, i, false
		}
		name := b[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			var ok bool
			if name, ok = unquote(b[i:end]); !ok {
				return dst, i, false
			}
		}
		i = skipSpace(b, end)
		if i == len(b) || b[i] != ':' {
			return dst, i, false
		}
		start := len(dst)
		var ok bool
		if dst, i, ok = appendCanonical(dst, b, skipSpace(b, i+1), depth+1); !ok {
			return dst, i, false
		}
		members = append(members, member{name, start, len(dst)})
		i = skipSpace(b, i)
		if i == len(b) {
			return dst, i, false
		}
		if b[i] == '}' {
			i++
			break
		}
		if b[i] != ',' {
			return dst, i, false
		}
		i = skipSpace(b, i+1)
	}
	slices.SortFunc(members, func(x, y member) int { return bytes.Compare(x.name, y.name) })
	for k := 1; k < len(members); k++ {
		if bytes.Equal(members[k-1].name, members[k].name) {
			return dst, i, false // a member twice: checkDuplicates says which
		}
	}
	sorted := len(dst)
	dst = append(dst, '{')
	for k, m := range members {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, m.name)
		dst = append(dst, ':')
		dst = append(dst, dst[m.start:m.end]...)
	}
	dst = append(dst, '}')
	return append(dst[:base], dst[sorted:]...), i, true
}

// unquote returns the text of the JSON string q, quotes included, which
// scanString accepted, or false if q holds a \u escape of a surrogate that
// is not half of a pair (encoding/json would read it as U+FFFD; see
// checkEscapes).
func unquote(q []byte) ([]byte, bool) {
	s := q[1 : len(q)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s)-i >= 6 && s[i] == '\\' && s[i+1] == 'u' {
					r2 = hex4(s[i+2 : i+6])
				}
				if r = utf16.DecodeRune(r, r2); r == unicode.ReplacementChar {
					return nil, false
				}
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\' and '/' stand for themselves
			out = append(out, s[i+1])
		}
		i += 2
	}
	return out, true
}

// hex4 returns the value of four hex digits, or -1.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendString appends s, which is UTF-8, as a JSON string the way
// encoding/json writes it with HTML escaping off: a quote, a backslash and
// control characters escaped (\b, \f, \n, \r and \t by name, the others as
// \u00XX), U+2028 and U+2029 escaped too, everything else as it is.
func appendString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		var esc []byte
		n := 1
		switch {
		case c == '"' || c == '\\':
			esc = []byte{'\\', c}
		case c == '\b':
			esc = []byte(`\b`)
		case c == '\f':
			esc = []byte(`\f`)
		case c == '\n':
			esc = []byte(`\n`)
		case c == '\r':
			esc = []byte(`\r`)
		case c == '\t':
			esc = []byte(`\t`)
		case c < 0x20:
			esc = []byte{'\\', 'u', '0', '0', hex[c>>4], hex[c&0xf]}
		case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9):
			esc = []byte{'\\', 'u', '2', '0', '2', hex[s[i+2]&0xf]}
			n = 3
		}
		if esc == nil {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, esc...)
		i += n
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
