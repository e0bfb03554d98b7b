package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ReadJSONL parses JSONL: one object per line with the fields "key", "val",
// "time" and optionally "diff" (default 1). Blank lines are skipped; any
// other field is refused, so a misspelled "diff" is not silently taken as 1.
// A UTF-8 byte order mark before the first line is skipped, and lines may
// end in CRLF.
func ReadJSONL(r io.Reader, name string) ([]Record, error) {
	return readAll(NewReader(r, name, JSONL))
}

var jsonlFields = map[string]bool{"key": true, "val": true, "time": true, "diff": true}

// lineProblem describes why text, which json.Unmarshal refused, is not one
// JSON object.
func lineProblem(text []byte) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return fmt.Errorf("want a JSON object with key, val, time and diff, got a JSON %s", ute.Value)
		}
		return jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value on the line")
	}
	return errors.New("invalid JSON")
}

// parseJSONLine parses one line of JSONL. Most lines take the fast path,
// scanLine; a line it does not take (a malformed one, or one it leaves to
// the decoder, such as a field name written with escapes) is parsed again by
// decodeLine, which accepts it or says what is wrong with it.
func parseJSONLine(text []byte) (Record, error) {
	if rec, ok := scanLine(text); ok {
		return rec, nil
	}
	return decodeLine(text)
}

// decodeLine parses one line of JSONL with encoding/json: every check, and
// every error message, of a line scanLine does not take.
func decodeLine(text []byte) (Record, error) {
	if err := checkUTF8(text); err != nil {
		return Record{}, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(text, &obj); err != nil {
		// Rare: say what is wrong the way the streaming decoder can.
		return Record{}, lineProblem(text)
	}
	if err := checkEscapes(text); err != nil {
		return Record{}, err // text decoded above: its escapes are well formed
	}
	if obj == nil {
		return Record{}, errors.New("want a JSON object with key, val, time and diff, got null")
	}
	if err := checkDuplicates(text, true); err != nil {
		return Record{}, err // text decoded above: it is valid JSON
	}
	var unknown []string
	for f := range obj {
		if !jsonlFields[f] {
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
	if rec.Key, err = Canonical(obj["key"]); err != nil {
		return Record{}, fmt.Errorf(`"key": %v`, err)
	}
	if rec.Val, err = Canonical(obj["val"]); err != nil {
		return Record{}, fmt.Errorf(`"val": %v`, err)
	}
	if rec.Time, err = parseTime(string(obj["time"])); err != nil {
		return Record{}, err
	}
	rec.Diff = 1
	if d, ok := obj["diff"]; ok {
		if rec.Diff, err = parseDiff(string(d)); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}
