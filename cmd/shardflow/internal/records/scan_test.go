package records

import (
	"bytes"
	"fmt"
	"testing"
)

// scanSeeds are lines for FuzzScanLine to start from: typical ones, and
// ones near each check.
var scanSeeds = []string{
	`{"key": "user-000001", "val": 7, "time": 0, "diff": 1}`,
	`{"key": "item-000001", "val": "name 1", "time": 0}` + "\n",
	`{"key":{"a":[1,"x"]},"val":null,"time":0}` + "\r\n",
	` { "key" : [1, {"b":2,"a":1}] , "val" : true , "time" : 18446744073709551615 , "diff" : -9223372036854775808 } `,
	`{"key":"a","val":false,"time":1,"diff":9223372036854775807}`,
	`{"key":"a\u00e9\n","val":"<&>","time":1,"diff":-0}`,
	`{"key":"é€😀","val":"\u2028","time":1}`,
	`{"key":1e5,"val":-0.5E-3,"time":1}`,
	`{"k\u0065y":1,"val":2,"time":3}`,
	`{"key":1,"val":2,"time":-1}`,
	`{"key":1,"val":2,"time":1.5}`,
	`{"key":1,"val":2,"time":"3"}`,
	`{"key":1,"val":2,"time":18446744073709551616}`,
	`{"key":1,"val":2,"time":3,"diff":9223372036854775808}`,
	`{"key":1,"val":2,"time":3,"diff":-9223372036854775809}`,
	`{"key":1,"val":2,"time":3,"diff":+1}`,
	`{"key":1,"val":2,"time":03}`,
	`{"key":1,"val":2}`,
	`{"val":2,"time":3}`,
	`{"key":1,"val":2,"time":3,"dif":1}`,
	`{"key":1,"val":2,"time":3,"b":1,"a":2}`,
	`{"key":1,"val":2,"time":3`,
	`{"key":1,"val":2,"time":3,}`,
	`{"key":1 "val":2,"time":3}`,
	`[1,2]`,
	`null`,
	`"x"`,
	`{}`,
	`{"key":1,"val":2,"time":3} {}`,
	`{"key":1,"val":2,"time":3}x`,
	`{"key":"a","key":"b","val":1,"time":0}`,
	`{"key":"a","val":1,"time":0,"diff":1,"diff":-1}`,
	`{"key":"a","val":{"x":1,"y":[{"z":1,"z":2}]},"time":0}`,
	`{"key":{"a":1,"\u0061":2},"val":1,"time":0}`,
	`{"key":{"a\"":1,"a":"{\"a\":1,","b":"\\"},"val":1,"time":0}`,
	`{"key":[1}],"val":1,"time":0}`,
	`{"key":"a\x","val":1,"time":0}`,
	`{"key":"a` + "\t" + `","val":1,"time":0}`,
	`{"key":"\ud800","val":"\uDFFF\u0000","time":0}`,
	"{\"key\":\"a\xffb\",\"val\":1,\"time\":0}",
	"\ufeff{\"key\":\"a\",\"val\":1,\"time\":0}",
	`{"key":tru,"val":nul,"time":0}`,
	`{"key":truex,"val":1,"time":0}`,
	`{"key":1-2,"val":1,"time":0}`,
}

// FuzzScanLine holds parseJSONLine, and its fast path scanLine, to the old
// parser (oldParseJSONLine, the oracle): the same decision, the same error
// message and the same Record for every line.
func FuzzScanLine(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	for _, s := range trickyLines() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := oldParseJSONLine(b)
		got, err := parseJSONLine(b)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("parseJSONLine(%q): error %v, want %v", b, err, wantErr)
		}
		if err == nil && !sameRecord(got, want) {
			t.Fatalf("parseJSONLine(%q) = %s, want %s", b, show(got), show(want))
		}
		fast, ok := scanLine(b)
		if !ok {
			return
		}
		if wantErr != nil {
			t.Fatalf("scanLine(%q) took a line the old parser refuses: %v", b, wantErr)
		}
		if !sameRecord(fast, want) {
			t.Fatalf("scanLine(%q) = %s, want %s", b, show(fast), show(want))
		}
	})
}

func sameRecord(a, b Record) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Val, b.Val) && a.Time == b.Time && a.Diff == b.Diff && a.Line == b.Line
}

func show(r Record) string {
	return fmt.Sprintf("{Key:%s Val:%s Time:%d Diff:%d}", r.Key, r.Val, r.Time, r.Diff)
}

// TestScanLineTakes checks that the lines write usually reads take the fast
// path, so that it does not silently stop being used, and that some it
// leaves to decodeLine are still accepted there.
func TestScanLineTakes(t *testing.T) {
	for _, line := range []string{
		scanSeeds[0], scanSeeds[1], scanSeeds[2], scanSeeds[3], scanSeeds[4],
		scanSeeds[5], scanSeeds[6], scanSeeds[7],
		`{"key": "apple", "val": {"price": 3, "stock": 10}, "time": 0}`,
	} {
		if _, ok := scanLine([]byte(line)); !ok {
			t.Errorf("scanLine(%s) left it to decodeLine", line)
		}
	}
	for _, line := range []string{`{"k\u0065y":1,"val":2,"time":3}`, `{"time":3,"val":2,"\u006bey":1}`} {
		if _, ok := scanLine([]byte(line)); ok {
			t.Errorf("scanLine(%s) took a field name written with escapes", line)
		}
		if rec, err := parseJSONLine([]byte(line)); err != nil || string(rec.Key) != "1" {
			t.Errorf("parseJSONLine(%s) = %s, %v", line, show(rec), err)
		}
	}
}

// TestScanLineOwnsBytes: a Record's Key and Val are copies, not slices of
// the line, and appending to Key leaves Val as it was.
func TestScanLineOwnsBytes(t *testing.T) {
	line := []byte(`{"key":"a","val":"b","time":0}`)
	rec, ok := scanLine(line)
	if !ok {
		t.Fatal("scanLine left the line to decodeLine")
	}
	for i := range line {
		line[i] = 'x'
	}
	_ = append(rec.Key, "zzzz"...)
	if string(rec.Key) != `"a"` || string(rec.Val) != `"b"` {
		t.Errorf("record after the line was overwritten and Key appended to: %s", show(rec))
	}
}

// TestCanonicalScalarUTF8: a string of UTF-8 with no escapes is canonical
// as written, but for U+2028 and U+2029, which the encoder escapes, and
// bytes that are not UTF-8, which it replaces.
func TestCanonicalScalarUTF8(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`"é€😀"`, true},
		{"\"\x7f\"", true},
		{"\"a\u2028\"", false},
		{"\"\u2029b\"", false},
		{"\"a\xffb\"", false},
		{"\"\xed\xa0\x80\"", false}, // a surrogate, in UTF-8's form
	} {
		if _, ok := canonicalScalar([]byte(tc.in)); ok != tc.ok {
			t.Errorf("canonicalScalar(%q): ok = %v, want %v", tc.in, ok, tc.ok)
		}
	}
}
