package records

// The reference oracle: parseJSONLine as it was before the fast path
// (scanLine), copied verbatim but for names, with every helper it used, so
// that FuzzScanLine can hold the new parser to the old behaviour even as
// the package's own helpers change. Canonical was canonicalScalar, else
// decode and encode again; FuzzCanonicalScalar holds the two equal, so the
// oracle decodes every value.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

func oldParseJSONLine(text []byte) (Record, error) {
	if err := oldCheckUTF8(text); err != nil {
		return Record{}, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(text, &obj); err != nil {
		// Rare: say what is wrong the way the streaming decoder can.
		return Record{}, oldLineProblem(text)
	}
	if err := oldCheckEscapes(text); err != nil {
		return Record{}, err
	}
	if obj == nil {
		return Record{}, errors.New("want a JSON object with key, val, time and diff, got null")
	}
	if err := oldCheckDuplicates(text, true); err != nil {
		return Record{}, err // text decoded above: it is valid JSON
	}
	var unknown []string
	for f := range obj {
		if !oldJSONLFields[f] {
			unknown = append(unknown, fmt.Sprintf("%q", f))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Record{}, fmt.Errorf("unknown field %s (want key, val, time, diff)", strings.Join(unknown, ", "))
	}
	var rec Record
	for _, f := range []string{"key", "val", "time"} {
		if _, ok := obj[f]; !ok {
			return Record{}, fmt.Errorf("missing field %q", f)
		}
	}
	var err error
	if rec.Key, err = oldCanonical(obj["key"]); err != nil {
		return Record{}, fmt.Errorf(`"key": %v`, err)
	}
	if rec.Val, err = oldCanonical(obj["val"]); err != nil {
		return Record{}, fmt.Errorf(`"val": %v`, err)
	}
	if rec.Time, err = oldParseTime(string(obj["time"])); err != nil {
		return Record{}, err
	}
	rec.Diff = 1
	if d, ok := obj["diff"]; ok {
		if rec.Diff, err = oldParseDiff(string(d)); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}

// oldLineProblem describes why text, which json.Unmarshal refused, is not one
// JSON object.
func oldLineProblem(text []byte) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return fmt.Errorf("want a JSON object with key, val, time and diff, got a JSON %s", ute.Value)
		}
		return oldJSONProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value on the line")
	}
	return errors.New("invalid JSON")
}

var oldJSONLFields = map[string]bool{"key": true, "val": true, "time": true, "diff": true}

// oldCheckDuplicates returns an error naming the first object member that
// appears twice in one object of b, which must be valid JSON (decode it
// first). Decoding such an object keeps one of the two values and silently
// drops the other; the input is refused instead. fields says b is a whole
// JSONL line, whose top-level members are its fields.
func oldCheckDuplicates(b []byte, fields bool) error {
	// One frame per open object or array (names nil, isObj false).
	type frame struct {
		isObj   bool
		wantKey bool
		names   []string        // the members so far, while few
		set     map[string]bool // and once many
	}
	var stack []frame
	for i := 0; i < len(b); i++ {
		top := len(stack) - 1
		switch b[i] {
		case '{':
			stack = append(stack, frame{isObj: true, wantKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			stack = stack[:top]
		case ',':
			if top >= 0 && stack[top].isObj {
				stack[top].wantKey = true
			}
		case '"':
			end := oldStringEnd(b, i)
			if top >= 0 && stack[top].wantKey {
				f := &stack[top]
				f.wantKey = false
				name := oldMemberName(b[i : end+1])
				dup := false
				if f.set != nil {
					dup = f.set[name]
					f.set[name] = true
				} else {
					dup = slices.Contains(f.names, name)
					f.names = append(f.names, name)
					if len(f.names) > 16 {
						f.set = make(map[string]bool, 2*len(f.names))
						for _, n := range f.names {
							f.set[n] = true
						}
					}
				}
				if dup {
					if fields && top == 0 {
						return fmt.Errorf("field %q appears twice", name)
					}
					return fmt.Errorf("member %q appears twice in one object", name)
				}
			}
			i = end
		}
	}
	return nil
}

// oldStringEnd returns the index of the quote closing the JSON string that
// opens at b[start].
func oldStringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(b) - 1
}

// oldMemberName returns the value of a quoted JSON string, unescaping it only
// if it has escapes ("a" and "\u0061" name the same member).
func oldMemberName(q []byte) string {
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1])
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
		return string(q)
	}
	return s
}

// oldCanonical is Canonical for any value: decode it and encode it
// again.
func oldCanonical(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, oldJSONProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	return oldEncodeCanonical(v)
}

func oldEncodeCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// oldJSONProblem turns a decoder error into a short description.
func oldJSONProblem(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at byte %d: %v", syn.Offset, syn)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

// oldParseTime parses a time: a JSON or CSV integer in [0, 2^64).
func oldParseTime(s string) (uint64, error) {
	t, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf(`"time" must be an integer in [0, 18446744073709551615], got %s`, s)
	}
	return t, nil
}

// oldParseDiff parses a diff: an integer in the int64 range.
func oldParseDiff(s string) (int64, error) {
	d, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf(`"diff" must be an integer in [-9223372036854775808, 9223372036854775807], got %s`, s)
	}
	return d, nil
}

// oldCheckUTF8 refuses text that is not UTF-8. The JSON decoder would replace
// each bad byte with U+FFFD, so that different keys read as one.
func oldCheckUTF8(text []byte) error {
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

// oldCSVJSON is csvJSON as it was before the fast paths: canonicalize a
// cell holding JSON, or take it as a string.
func oldCSVJSON(cell string) ([]byte, error) {
	if b, err := oldCanonical([]byte(cell)); err == nil {
		if err := oldCheckEscapes([]byte(cell)); err != nil {
			return nil, err
		}
		return b, oldCheckDuplicates([]byte(cell), false)
	}
	return oldEncodeCanonical(cell)
}

// surrogateEscape matches a \u escape of a UTF-16 surrogate.
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F][0-9a-fA-F]{2}`)

// oldCheckEscapes is checkEscapes by another road, for valid JSON text:
// escaped backslashes blanked out (so that \\u is no escape), every
// surrogate escape must be a high one followed at once by a low one.
func oldCheckEscapes(text []byte) error {
	t := bytes.ReplaceAll(text, []byte(`\\`), []byte(`__`))
	locs := surrogateEscape.FindAllIndex(t, -1)
	high := func(at int) bool { return strings.ContainsRune("89abAB", rune(t[at+3])) }
	for k := 0; k < len(locs); k++ {
		s, e := locs[k][0], locs[k][1]
		if high(s) && k+1 < len(locs) && locs[k+1][0] == e && !high(e) {
			k++ // a pair
			continue
		}
		return fmt.Errorf(`\u%s at byte %d is half of a UTF-16 surrogate pair: JSON decoders read it as U+FFFD, like every such escape, so that different keys would read as one`, t[s+2:s+6], s+1)
	}
	return nil
}
