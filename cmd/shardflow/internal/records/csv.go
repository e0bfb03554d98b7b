package records

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ReadCSV parses CSV with a header row naming the columns key, val, time and
// optionally diff, in any order. Key and val cells hold JSON; a cell that is
// not valid JSON is taken as a string. Every row must have as many cells as
// the header.
func ReadCSV(r io.Reader, name string) ([]Record, error) {
	return readAll(NewReader(r, name, CSV))
}

// csvCols holds each column's index in a row, -1 for an absent diff.
type csvCols struct{ key, val, time, diff int }

func csvColumns(header []string) (csvCols, error) {
	c := csvCols{-1, -1, -1, -1}
	for i, h := range header {
		name := strings.TrimSpace(h) // a byte order mark went before (csvRecords)
		var slot *int
		switch name {
		case "key":
			slot = &c.key
		case "val":
			slot = &c.val
		case "time":
			slot = &c.time
		case "diff":
			slot = &c.diff
		default:
			return c, fmt.Errorf("header: unknown column %q (want key, val, time, diff)", name)
		}
		if *slot >= 0 {
			return c, fmt.Errorf("header: column %q appears twice", name)
		}
		*slot = i
	}
	for _, m := range []struct {
		name string
		i    int
	}{{"key", c.key}, {"val", c.val}, {"time", c.time}} {
		if m.i < 0 {
			return c, fmt.Errorf("header: missing column %q", m.name)
		}
	}
	return c, nil
}

func parseCSVRow(row []string, c csvCols) (Record, error) {
	for i, cell := range row {
		if err := checkUTF8([]byte(cell)); err != nil {
			return Record{}, fmt.Errorf("cell %d: %v", i+1, err)
		}
	}
	var rec Record
	var err error
	if rec.Key, err = csvJSON(row[c.key]); err != nil {
		return Record{}, fmt.Errorf(`"key": %v`, err)
	}
	if rec.Val, err = csvJSON(row[c.val]); err != nil {
		return Record{}, fmt.Errorf(`"val": %v`, err)
	}
	if rec.Time, err = parseTime(strings.TrimSpace(row[c.time])); err != nil {
		return Record{}, err
	}
	rec.Diff = 1
	if c.diff >= 0 {
		if s := strings.TrimSpace(row[c.diff]); s != "" {
			if rec.Diff, err = parseDiff(s); err != nil {
				return Record{}, err
			}
		}
	}
	return rec, nil
}

// csvJSON canonicalizes a cell holding JSON, or takes it as a string. A
// value with a member twice is refused; only a decoded one can have one,
// as canonicalScalar takes no object and fastCanonical none with a member
// twice (FuzzCanonical holds it to checkDuplicates).
func csvJSON(cell string) ([]byte, error) {
	b := []byte(cell)
	if c, ok := canonicalScalar(b); ok {
		return tight(c), nil // c is b less the spaces around it
	}
	t := bytes.Trim(b, " \t\r\n")
	if c, ok := fastCanonical(t); ok {
		return c, nil
	}
	if mayBeJSON(t) {
		if c, err := decodeCanonical(b); err == nil {
			if err := checkEscapes(b); err != nil {
				return nil, err
			}
			return c, checkDuplicates(b, false)
		}
	}
	return encodeCanonical(cell)
}

// mayBeJSON reports whether t, a cell less the JSON whitespace around it,
// begins as a JSON value that canonicalScalar does not take whole. Text
// that begins otherwise (plain words, the usual CSV cell) cannot decode,
// and is taken as a string without the cost of a failed decoding: true,
// false and null are the only values beginning with a letter, and
// canonicalScalar takes them.
func mayBeJSON(t []byte) bool {
	return len(t) > 0 && strings.IndexByte(`{["-0123456789`, t[0]) >= 0
}

// csvError turns encoding/csv's error into a LineError.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &LineError{Name: name, Line: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("records: reading %s: %w", name, err)
}
