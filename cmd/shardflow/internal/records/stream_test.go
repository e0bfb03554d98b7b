package records

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestReaderStreams checks that a record is returned as soon as its line
// has been read, before the input ends: write parses inputs larger than
// memory through a Reader.
func TestReaderStreams(t *testing.T) {
	for _, tc := range []struct {
		f           Format
		first, rest string
	}{
		{JSONL, `{"key":"a","val":1,"time":2}` + "\n", `{"key":"b","val":1,"time":3}` + "\n"},
		{CSV, "key,val,time\na,1,2\n", "b,1,3\n"},
	} {
		pr, pw := io.Pipe()
		rd := NewReader(pr, "pipe", tc.f)
		go func() {
			// Blocks until the reader has taken the first line; the rest
			// is written only after the first record was returned.
			io.WriteString(pw, tc.first)
		}()
		rec, err := rd.Next()
		if err != nil || string(rec.Key) != `"a"` || rec.Time != 2 {
			t.Fatalf("%s: first record %+v, %v", tc.f, rec, err)
		}
		go func() {
			io.WriteString(pw, tc.rest)
			pw.Close()
		}()
		rec, err = rd.Next()
		if err != nil || string(rec.Key) != `"b"` || rec.Time != 3 {
			t.Fatalf("%s: second record %+v, %v", tc.f, rec, err)
		}
		if _, err := rd.Next(); err != io.EOF {
			t.Fatalf("%s: after the last record: %v, want io.EOF", tc.f, err)
		}
		if _, err := rd.Next(); err != io.EOF {
			t.Fatalf("%s: Next after io.EOF: %v, want io.EOF again", tc.f, err)
		}
	}
}

// TestReaderErrorIsSticky checks that a malformed line stops the Reader: a
// later good line is never returned as if the input were whole.
func TestReaderErrorIsSticky(t *testing.T) {
	in := `{"key":"a","val":1,"time":2}` + "\nnope\n" + `{"key":"b","val":1,"time":3}` + "\n"
	rd := NewReader(strings.NewReader(in), "in.jsonl", JSONL)
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := rd.Next()
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Fatalf("second Next: %v, want a *LineError at line 2", err)
	}
	if _, again := rd.Next(); again != err {
		t.Fatalf("Next after an error: %v, want %v again", again, err)
	}
}

// TestReaderSkipsOnlyJSONBlankLines: a line of JSON whitespace is blank;
// one holding other space characters is malformed, not skipped.
func TestReaderSkipsOnlyJSONBlankLines(t *testing.T) {
	for _, line := range []string{"\v", "\f", "\u00a0", "\u0085"} {
		in := " \t\r\n" + line + "\n"
		_, err := NewReader(strings.NewReader(in), "in.jsonl", JSONL).Next()
		var le *LineError
		if !errors.As(err, &le) || le.Line != 2 {
			t.Errorf("line %q: %v, want a *LineError at line 2", line, err)
		}
	}
}
