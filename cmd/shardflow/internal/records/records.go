package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrMalformed is matched (errors.Is) by every *LineError.
var ErrMalformed = errors.New("records: malformed input")

// Record is one update read from the input. Key and Val are canonical JSON.
type Record struct {
	Key, Val []byte
	Time     uint64
	Diff     int64
	// Line is the 1-based line of the input the record started on.
	Line int
}

// LineError reports a malformed line of an input. Its message has the form
// compilers use, "NAME:LINE: problem", so editors can jump to it.
type LineError struct {
	Name string // the input's name: a file name, or "stdin"
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Name, e.Line, e.Err) }

// Unwrap returns ErrMalformed and the cause.
func (e *LineError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// Format names an input format.
type Format string

// The input formats.
const (
	JSONL Format = "jsonl"
	CSV   Format = "csv"
)

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case JSONL, CSV:
		return Format(s), nil
	}
	return "", fmt.Errorf("records: unknown format %q (want jsonl or csv)", s)
}

// Read parses every record of r in format f. name is used in error messages.
// It stops at the first malformed line.
func Read(r io.Reader, name string, f Format) ([]Record, error) {
	return readAll(NewReader(r, name, f))
}

// Canonical returns the canonical form of the JSON value in b: compact,
// object members sorted, no HTML escaping. b must hold exactly one value.
func Canonical(b []byte) ([]byte, error) {
	if c, ok := canonicalScalar(b); ok {
		return c, nil
	}
	if c, ok := fastCanonical(bytes.Trim(b, " \t\r\n")); ok {
		return c, nil
	}
	return decodeCanonical(b)
}

// decodeCanonical is Canonical for any value: decode it and encode it
// again.
func decodeCanonical(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	return encodeCanonical(v)
}

func encodeCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// canonicalScalar returns b, less the whitespace around it, if it is a
// value the encoder writes back unchanged: true, false, null, a number, or
// a string of UTF-8 with no escapes, no control characters and neither
// U+2028 nor U+2029 (which the encoder escapes). Most keys and values are;
// for them Canonical needs no decoding.
func canonicalScalar(b []byte) ([]byte, bool) {
	return canonicalTrimmed(bytes.Trim(b, " \t\r\n"))
}

// canonicalTrimmed is canonicalScalar for b with no whitespace around it.
func canonicalTrimmed(b []byte) ([]byte, bool) {
	switch {
	case len(b) == 0:
		return nil, false
	case string(b) == "true" || string(b) == "false" || string(b) == "null":
		return b, true
	case b[0] == '"':
		if len(b) < 2 || b[len(b)-1] != '"' {
			return nil, false
		}
		s := b[1 : len(b)-1]
		ascii := true
		for _, c := range s {
			if c < 0x20 || c == '"' || c == '\\' {
				return nil, false
			}
			if c >= utf8.RuneSelf {
				ascii = false
			}
		}
		if !ascii && (!utf8.Valid(s) || bytes.Contains(s, lineSep) || bytes.Contains(s, paraSep)) {
			return nil, false
		}
		return b, true
	case b[0] == '-' || '0' <= b[0] && b[0] <= '9':
		return b, isJSONNumber(b)
	}
	return nil, false
}

// U+2028 and U+2029, which encoding/json always escapes.
var lineSep, paraSep = []byte("\u2028"), []byte("\u2029")

// isJSONNumber reports whether b is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(b []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// jsonProblem turns a decoder error into a short description.
func jsonProblem(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at byte %d: %v", syn.Offset, syn)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

// parseTime parses a time: a JSON or CSV integer in [0, 2^64). Like a diff
// it may have a + sign (only CSV can give one: JSON's grammar has none).
func parseTime(s string) (uint64, error) {
	t, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf(`"time" must be an integer in [0, 18446744073709551615], got %s`, s)
	}
	return t, nil
}

// parseDiff parses a diff: an integer in the int64 range.
func parseDiff(s string) (int64, error) {
	d, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf(`"diff" must be an integer in [-9223372036854775808, 9223372036854775807], got %s`, s)
	}
	return d, nil
}

// checkEscapes refuses JSON text with a \u escape of a surrogate that is
// not half of a pair. The JSON decoder reads every such escape as U+FFFD,
// so that different keys would read as one, as checkUTF8 says of bad
// bytes. A malformed escape is left for the decoder to report.
func checkEscapes(text []byte) error {
	for i := 0; i+1 < len(text); i++ {
		if text[i] != '\\' {
			continue
		}
		if text[i+1] != 'u' || i+6 > len(text) {
			i++ // another escape, or a malformed one
			continue
		}
		r := hex4(text[i+2 : i+6])
		if !utf16.IsSurrogate(r) {
			i += 5
			continue
		}
		if i+12 <= len(text) && text[i+6] == '\\' && text[i+7] == 'u' &&
			utf16.DecodeRune(r, hex4(text[i+8:i+12])) != unicode.ReplacementChar {
			i += 11 // a pair
			continue
		}
		return fmt.Errorf(`\u%s at byte %d is half of a UTF-16 surrogate pair: JSON decoders read it as U+FFFD, like every such escape, so that different keys would read as one`, text[i+2:i+6], i+1)
	}
	return nil
}

// checkUTF8 refuses text that is not UTF-8. The JSON decoder would replace
// each bad byte with U+FFFD, so that different keys read as one.
func checkUTF8(text []byte) error {
	if utf8.Valid(text) {
		return nil
	}
	n := 0
	for len(text) > 0 {
		r, size := utf8.DecodeRune(text)
		if r == utf8.RuneError && size == 1 {
			break
		}
		text, n = text[size:], n+size
	}
	return fmt.Errorf("not UTF-8: byte %d is 0x%02x", n+1, text[0])
}
