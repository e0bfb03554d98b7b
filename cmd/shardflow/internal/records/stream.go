package records

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// Reader parses records one at a time, so that an input of any size can be
// consumed in bounded memory.
type Reader struct {
	next func() (Record, error)
	err  error // sticky: the first error, io.EOF at the end
}

// NewReader returns a Reader of the records of r in format f. name is used
// in error messages.
func NewReader(r io.Reader, name string, f Format) *Reader {
	switch f {
	case JSONL:
		return &Reader{next: jsonlRecords(r, name)}
	case CSV:
		return &Reader{next: csvRecords(r, name)}
	}
	panic(fmt.Sprintf("records: unknown format %q", f))
}

// Next returns the next record, or io.EOF after the last one. Malformed input
// is a *LineError. Once Next has returned an error it returns the same error
// on every later call.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
	}
	return rec, err
}

// readAll returns every record of rd.
func readAll(rd *Reader) ([]Record, error) {
	var out []Record
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
}

// jsonlRecords returns the next-record function of a JSONL input.
func jsonlRecords(r io.Reader, name string) func() (Record, error) {
	br := bufio.NewReader(r)
	line := 0
	return func() (Record, error) {
		for {
			line++
			if line == 1 {
				skipBOM(br)
			}
			text, err := br.ReadBytes('\n')
			if err != nil && err != io.EOF {
				return Record{}, fmt.Errorf("records: reading %s: %w", name, err)
			}
			// Blank: JSON whitespace only (bytes.TrimSpace would also take
			// \v, \f, NBSP, which JSON does not).
			if len(bytes.Trim(text, " \t\r\n")) > 0 {
				rec, perr := parseJSONLine(text)
				if perr != nil {
					return Record{}, &LineError{Name: name, Line: line, Err: perr}
				}
				rec.Line = line
				return rec, nil
			}
			if err == io.EOF {
				return Record{}, io.EOF
			}
		}
	}
}

// bom is UTF-8's byte order mark.
var bom = []byte("\ufeff")

// skipBOM skips a byte order mark at the start of an input, as some
// Windows editors and spreadsheet exports write one. Called at the first
// read, not when the reader is made: a stream may have nothing to read
// yet.
func skipBOM(br *bufio.Reader) {
	if head, _ := br.Peek(len(bom)); bytes.Equal(head, bom) {
		br.Discard(len(bom))
	}
}

// csvRecords returns the next-record function of a CSV input.
func csvRecords(r io.Reader, name string) func() (Record, error) {
	br := bufio.NewReader(r)
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	var cols *csvCols
	return func() (Record, error) {
		if cols == nil {
			// Before encoding/csv reads the header: after a byte order
			// mark, a quoted first field ("\ufeff\"key\",...") is a bare
			// quote to it.
			skipBOM(br)
			header, err := cr.Read()
			if err == io.EOF {
				return Record{}, &LineError{Name: name, Line: 1, Err: errors.New("empty input: want a header naming key, val, time (and optionally diff)")}
			}
			if err != nil {
				return Record{}, csvError(name, err)
			}
			c, err := csvColumns(header)
			if err != nil {
				return Record{}, &LineError{Name: name, Line: 1, Err: err}
			}
			cols = &c
		}
		row, err := cr.Read()
		if err == io.EOF {
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		rec, err := parseCSVRow(row, *cols)
		if err != nil {
			return Record{}, &LineError{Name: name, Line: line, Err: err}
		}
		rec.Line = line
		return rec, nil
	}
}
