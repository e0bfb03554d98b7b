package records

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"b": 1, "a": [1, 2.50, "x"]}`, `{"a":[1,2.50,"x"],"b":1}`},
		{` "\u0041<&>" `, `"A<&>"`},
		{`18446744073709551616123`, `18446744073709551616123`},
		{`null`, `null`},
		{`{"a":{"d":true,"c":false}}`, `{"a":{"c":false,"d":true}}`},
	} {
		got, err := Canonical([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `{`, `1 2`, `nope`} {
		if _, err := Canonical([]byte(bad)); err == nil {
			t.Errorf("Canonical(%q) succeeded", bad)
		}
	}
}

func TestReadJSONL(t *testing.T) {
	in := `{"key": "a", "val": {"y":2,"x":1}, "time": 3}

{"key": [1], "val": null, "time": 18446744073709551615, "diff": -2}
`
	recs, err := ReadJSONL(strings.NewReader(in), "in.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d records", len(recs))
	}
	r := recs[0]
	if string(r.Key) != `"a"` || string(r.Val) != `{"x":1,"y":2}` || r.Time != 3 || r.Diff != 1 || r.Line != 1 {
		t.Errorf("record 0 = %+v", r)
	}
	r = recs[1]
	if string(r.Key) != `[1]` || string(r.Val) != `null` || r.Time != 1<<64-1 || r.Diff != -2 || r.Line != 3 {
		t.Errorf("record 1 = %+v", r)
	}
}

// TestReadJSONLBOM: a file saved with a byte order mark and CRLF line ends
// (as Windows editors write it) reads like any other; a mark anywhere but
// the start is still an error.
func TestReadJSONLBOM(t *testing.T) {
	in := "\ufeff{\"key\":\"a\",\"val\":1,\"time\":0}\r\n{\"key\":\"b\",\"val\":2,\"time\":1}\r\n"
	recs, err := ReadJSONL(strings.NewReader(in), "bom.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || string(recs[0].Key) != `"a"` || string(recs[1].Key) != `"b"` {
		t.Fatalf("records = %+v", recs)
	}
	in = "{\"key\":\"a\",\"val\":1,\"time\":0}\n\ufeff{\"key\":\"b\",\"val\":2,\"time\":1}\n"
	if _, err := ReadJSONL(strings.NewReader(in), "in"); err == nil || !strings.HasPrefix(err.Error(), "in:2: invalid JSON") {
		t.Errorf("a mark on line 2: err = %v, want in:2: invalid JSON", err)
	}
}

func TestReadJSONLErrors(t *testing.T) {
	good := `{"key":1,"val":2,"time":3}` + "\n"
	for _, tc := range []struct{ line, want string }{
		{`{"key":1,"val":2,"time":-1}`, `in:2: "time" must be an integer in [0, 18446744073709551615], got -1`},
		{`{"key":1,"val":2,"time":1.5}`, `in:2: "time" must be an integer in [0, 18446744073709551615], got 1.5`},
		{`{"key":1,"val":2,"time":"3"}`, `in:2: "time" must be an integer in [0, 18446744073709551615], got "3"`},
		{`{"key":1,"val":2,"time":18446744073709551616}`, `in:2: "time" must be an integer in [0, 18446744073709551615], got 18446744073709551616`},
		{`{"key":1,"val":2,"time":3,"diff":9223372036854775808}`, `in:2: "diff" must be an integer in [-9223372036854775808, 9223372036854775807], got 9223372036854775808`},
		{`{"key":1,"val":2}`, `in:2: missing field "time"`},
		{`{"val":2,"time":3}`, `in:2: missing field "key"`},
		{`{"key":1,"val":2,"time":3,"dif":1}`, `in:2: unknown field "dif" (want key, val, time, diff)`},
		{`{"key":1,"val":2,"time":3`, `in:2: invalid JSON: unexpected end of input`},
		{`[1,2]`, `in:2: want a JSON object with key, val, time and diff, got a JSON array`},
		{`null`, `in:2: want a JSON object with key, val, time and diff, got null`},
		{`{"key":1,"val":2,"time":3} {}`, `in:2: more than one JSON value on the line`},
		{`{"key":1,"val":2,"time":3}x`, `in:2: more than one JSON value on the line`},
	} {
		_, err := ReadJSONL(strings.NewReader(good+tc.line+"\n"+good), "in")
		if err == nil {
			t.Errorf("%s: no error", tc.line)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.line, err, tc.want)
		}
		var le *LineError
		if !errors.Is(err, ErrMalformed) || !errors.As(err, &le) || le.Line != 2 {
			t.Errorf("%s: error %#v is not a LineError at line 2", tc.line, err)
		}
	}
}

func TestReadCSV(t *testing.T) {
	in := "time,key,val,diff\n3,apple,\"{\"\"b\"\":1}\",\n4,42,\"\"\"42\"\"\",-1\n"
	recs, err := ReadCSV(strings.NewReader(in), "in.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d records", len(recs))
	}
	if r := recs[0]; string(r.Key) != `"apple"` || string(r.Val) != `{"b":1}` || r.Time != 3 || r.Diff != 1 || r.Line != 2 {
		t.Errorf("record 0 = %+v", r)
	}
	if r := recs[1]; string(r.Key) != `42` || string(r.Val) != `"42"` || r.Time != 4 || r.Diff != -1 || r.Line != 3 {
		t.Errorf("record 1 = %+v", r)
	}
}

// A CSV file with a byte order mark reads like one without, its header
// quoted or not, as spreadsheet programs and PowerShell's Export-Csv write
// it. (The quoted header failed, "bare \" in non-quoted-field", when the
// mark was trimmed from the parsed header rather than the input.)
func TestReadCSVBOM(t *testing.T) {
	for _, header := range []string{"key,val,time", `"key","val","time"`} {
		in := "\ufeff" + header + "\r\n\"apple\",\"3\",\"0\"\r\n"
		recs, err := ReadCSV(strings.NewReader(in), "bom.csv")
		if err != nil {
			t.Fatalf("%s: %v", header, err)
		}
		if len(recs) != 1 || string(recs[0].Key) != `"apple"` || string(recs[0].Val) != `3` || recs[0].Line != 2 {
			t.Fatalf("%s: got %+v", header, recs)
		}
	}
}

// A time and a diff read alike: a + sign, leading zeros and spaces around
// are all allowed on both, and only one sign.
func TestReadCSVIntegers(t *testing.T) {
	in := "key,val,time,diff\na,1,+3,+2\nb,1,007, 007\nc,1, +0 ,-0\n"
	recs, err := ReadCSV(strings.NewReader(in), "in")
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int64{{3, 2}, {7, 7}, {0, 0}}
	for i, r := range recs {
		if int64(r.Time) != want[i][0] || r.Diff != want[i][1] {
			t.Errorf("record %d: time %d diff %d, want %v", i, r.Time, r.Diff, want[i])
		}
	}
	for _, bad := range []string{"++3", "+-3", "-3", "+", "3+"} {
		_, err := ReadCSV(strings.NewReader("key,val,time\na,1,"+bad+"\n"), "in")
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("time %q: got %v, want ErrMalformed", bad, err)
		}
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `in:1: empty input: want a header naming key, val, time (and optionally diff)`},
		{"key,val\n", `in:1: header: missing column "time"`},
		{"key,val,time,when\n", `in:1: header: unknown column "when" (want key, val, time, diff)`},
		{"key,val,time,key\n", `in:1: header: column "key" appears twice`},
		{"key,val,time\na,b,1\na,b,x\n", `in:3: "time" must be an integer in [0, 18446744073709551615], got x`},
		{"key,val,time,diff\na,b,1,1.5\n", `in:2: "diff" must be an integer in [-9223372036854775808, 9223372036854775807], got 1.5`},
		{"key,val,time\na,b,1\na,b\n", `in:3: wrong number of fields`},
		{"key,val,time\na,\"b,1\n", `in:2: extraneous or missing " in quoted-field`},
	} {
		_, err := ReadCSV(strings.NewReader(tc.in), "in")
		if err == nil || err.Error() != tc.want || !errors.Is(err, ErrMalformed) {
			t.Errorf("%q:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"key":1,"val":2,"time":3,"diff":-1}`))
	f.Add([]byte("{\"key\":{\"a\":[1,\"x\"]},\"val\":null,\"time\":0}\n\n"))
	for _, s := range trickyLines() {
		f.Add([]byte(s + "\r\n" + s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := ReadJSONL(strings.NewReader(string(b)), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		for _, r := range recs {
			for _, v := range [][]byte{r.Key, r.Val} {
				c, err := Canonical(v)
				if err != nil || string(c) != string(v) {
					t.Fatalf("stored %s is not canonical: %s, %v", v, c, err)
				}
			}
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("key,val,time,diff\na,1,2,3\n"))
	f.Add([]byte("time,key,val\n1,\"{\"\"a\"\":1}\",x\n"))
	for _, s := range trickyValues {
		q := `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		f.Add([]byte("key,val,time,diff\n" + q + "," + q + ",0,-1\n"))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ReadCSV(strings.NewReader(string(b)), "fuzz"); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not match ErrMalformed", err)
		}
	})
}

// TestDuplicateMembers: an object with a member twice is refused, in a
// JSONL line's fields, in a nested value, and in a CSV cell: decoding would
// keep one value and silently drop the other.
func TestDuplicateMembers(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"key":"a","key":"b","val":1,"time":0}`, `in:1: field "key" appears twice`},
		{`{"key":"a","val":1,"time":0,"diff":1,"diff":-1}`, `in:1: field "diff" appears twice`},
		{`{"key":"a","val":{"x":1,"y":[{"z":1,"z":2}]},"time":0}`, `in:1: member "z" appears twice in one object`},
		{`{"key":{"x":{"x":1},"y":{"x":1}},"val":[{"x":1},{"x":1}],"time":0}`, ``},
	} {
		_, err := ReadJSONL(strings.NewReader(tc.line), "in")
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.line, err, tc.want)
		}
	}
	_, err := ReadCSV(strings.NewReader("key,val,time\na,\"{\"\"x\"\":1,\"\"x\"\":2}\",0\n"), "in")
	if want := `in:2: "val": member "x" appears twice in one object`; fmt.Sprint(err) != want {
		t.Errorf("CSV: got %v, want %s", err, want)
	}
}

// TestDuplicateMembersEscaped: escapes are decoded before names are
// compared, strings holding braces, commas and quotes are not structure,
// and objects with many members are checked too.
func TestDuplicateMembersEscaped(t *testing.T) {
	many := `{"key":{`
	for i := range 40 {
		many += fmt.Sprintf(`"m%d":1,`, i)
	}
	for _, tc := range []struct{ line, want string }{
		{`{"key":{"a":1,"\u0061":2},"val":1,"time":0}`, `in:1: member "a" appears twice in one object`},
		{`{"key":{"a\"":1,"a":"{\"a\":1,","b":"\\"},"val":1,"time":0}`, ``},
		{many + `"m1":2},"val":1,"time":0}`, `in:1: member "m1" appears twice in one object`},
		{many + `"m40":2},"val":1,"time":0}`, ``},
	} {
		_, err := ReadJSONL(strings.NewReader(tc.line), "in")
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.line, err, tc.want)
		}
	}
}

// TestNotUTF8: bytes that are not UTF-8 are refused with their position,
// in JSONL and CSV, rather than replaced by U+FFFD.
func TestNotUTF8(t *testing.T) {
	_, err := ReadJSONL(strings.NewReader("{\"key\":\"a\",\"val\":1,\"time\":0}\n{\"key\":\"a\xffb\",\"val\":1,\"time\":0}\n"), "in")
	if want := "in:2: not UTF-8: byte 10 is 0xff"; fmt.Sprint(err) != want {
		t.Errorf("JSONL: got %v, want %s", err, want)
	}
	_, err = ReadCSV(strings.NewReader("key,val,time\nok,1,0\n\xe2\x82,1,0\n"), "in")
	if want := "in:3: cell 1: not UTF-8: byte 1 is 0xe2"; fmt.Sprint(err) != want {
		t.Errorf("CSV: got %v, want %s", err, want)
	}
	if _, err := ReadJSONL(strings.NewReader("{\"key\":\"é€😀\",\"val\":1,\"time\":0}\n"), "in"); err != nil {
		t.Errorf("UTF-8 refused: %v", err)
	}
}

// What canonicalScalar passes through unchanged, decoding and encoding
// again gives byte for byte; what it does not recognise it leaves to them.
func FuzzCanonicalScalar(f *testing.F) {
	for _, s := range []string{`"abc"`, ` 12.5e-3 `, `-0`, `01`, `"a\"b"`, `"\u00e9"`, `"<&>"`, `true`, `nul`, `1.`, `-`, `"é"`, `1e+9`, "\"\x7f\"", "\"a\u2028b\"", "\"\u2029\"", "\"a\xffb\"", "\"é\xe2\x80\"", "\"😀\ufffd\""} {
		f.Add([]byte(s))
	}
	for _, s := range trickyValues {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := canonicalScalar(b)
		if !ok {
			return
		}
		slow, err := decodeCanonical(b)
		if err != nil || string(slow) != string(fast) {
			t.Fatalf("canonicalScalar(%q) = %q, decoding gives %q, %v", b, fast, slow, err)
		}
	})
}
