package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// trickyValues are values near an edge of canonicalScalar, fastCanonical
// or the decoder: escapes, surrogates, separators, numbers, whitespace,
// member order and duplicate names.
var trickyValues = []string{
	`"\u0000\u0001\u0008\u0009\u000a\u000b\u000c\u000d\u001f\u0020\u007f"`,
	`"\b\f\n\r\t\"\\\/"`, `"/"`, `"\/"`, `"\u002F"`, `"\u2028\u2029"`, "\"\u2028\u2029\"",
	`"\u2027\u202a"`, "\"\u2027\u202a\"", `"\u00E9\u00e9"`, `"\u00c9"`, `"\uFFFD"`, "\"\uFFFD\"",
	`"\ud83d\ude00"`, "\"😀\"", `"\uD83D\uDE00"`, `"\ud83d"`, `"\ude00"`, `"\ude00\ud83d"`,
	`"\ud83d\ud83d\ude00"`, `"\ud83d\u0041"`, `"\ud83dx"`, `"\ud83d\\"`, `"\ud83d\ude0"`,
	`"\ud83d\n"`, `"\udbff\udfff"`, `"\ud800\udc00"`, `"\uDBFF\uDFFF"`, `"\ufeff"`, "\"\ufeff\"",
	`"<>&"`, `"\u003c\u003e\u0026"`, `""`, `"\u0022"`, `"\u005c"`, `"\u005C"`,
	`-0`, `0`, `-0.0`, `1E5`, `1e5`, `1e+05`, `1E-05`, `123456789012345678901234567890`,
	`1.000000000000000000000001`, `01`, `-01`, `00`, `1.`, `.5`, `+1`, `-`, `1e`, `1e+`, `0x10`,
	`NaN`, `Infinity`, `-Infinity`, `true`, `false`, `null`, `True`, `nulll`,
	" 1 ", "\t1\r\n", "\v1", "\f1", "\u00a01", "1\u00a0", "\ufeff1", "1\x00", "\x001",
	`[1,2]`, `[ 1 , 2 ]`, "[\t1\n,\r2 ]", "[\v1]", "[\f1]", "[\u00a01]", "[1\x00]",
	`{"b":1,"a":2}`, `{"a":1,"b":2}`, `{"\u0062":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a":1,"a":1}`,
	`{"\u00e9":1,"é":2}`, `{"é":1,"e\u0301":2}`, `{"\ud800":1,"\ufffd":2}`, `{"\ud800":1,"\udc00":2}`,
	`{"":1}`, `{"":1,"":2}`, `{"":1,"\u0000":2}`, `{"\u0000":1,"":2}`, `{"a\u0000":1,"a":2}`,
	`{"Z":1,"a":2,"_":3,"~":4,"é":5,"😀":6,"\uffff":7,"\ud83d\ude00x":8}`,
	`{"A":1,"a":2}`, `{"ab":1,"a":2,"a\u0000":3}`, `{"\u2028":1,"\u2029":2}`,
	`[{"a":1},{"a":1}]`, `[{"a":1,"b":{"a":1}}]`, `[{"a":1,"a":2}]`, `[[{"x":[{"y":1,"y":2}]}]]`,
	`{"a":{"b":{"c":{}}},"a ":[]}`, `{"a":[],"b":{}}`, `{ }`, `[ ]`, `{"a" : 1 }`,
	`{"a":1,}`, `[1,]`, `{,}`, `[,]`, `{"a"}`, `{"a":}`, `{a:1}`, `{'a':1}`, `["a"`, `[1}`, `{"a":1]`,
	`"abc`, `"a\x"`, `"\u12"`, `"\u12g4"`, `"\U0041"`, `"\'"`, `"\a"`, "\"\t\"", "\"\x7f\"",
	`[1] [2]`, `1 2`, `{} {}`, `"a""b"`,
}

// TestTrickyValues holds Canonical and csvJSON to the old code on
// trickyValues, and Canonical to encoding/json decoding into a map.
func TestTrickyValues(t *testing.T) {
	for _, s := range trickyValues {
		b := []byte(s)
		want, wantErr := oldCanonical(b)
		got, err := Canonical(b)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || !bytes.Equal(got, want) {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", s, got, err, want, wantErr)
		}
		if fast, ok := fastCanonical(b); ok && (wantErr != nil || !bytes.Equal(fast, want)) {
			t.Errorf("fastCanonical(%q) = %q; want %q, %v", s, fast, want, wantErr)
		}
		wantCSV, wantCSVErr := oldCSVJSON(s)
		gotCSV, errCSV := csvJSON(s)
		if fmt.Sprint(errCSV) != fmt.Sprint(wantCSVErr) || !bytes.Equal(gotCSV, wantCSV) {
			t.Errorf("csvJSON(%q) = %q, %v; want %q, %v", s, gotCSV, errCSV, wantCSV, wantCSVErr)
		}
		if wantErr == nil {
			// Straight from encoding/json, with no helper of ours.
			var v any
			d := json.NewDecoder(strings.NewReader(s))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			var buf bytes.Buffer
			e := json.NewEncoder(&buf)
			e.SetEscapeHTML(false)
			if err := e.Encode(v); err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			if j := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, j) {
				t.Errorf("Canonical(%q) = %q, encoding/json gives %q", s, got, j)
			}
		}
	}
}

// trickyLines are JSONL lines near an edge of scanLine: field names, time
// and diff values, whitespace, and values from trickyValues.
func trickyLines() []string {
	lines := []string{
		`{"Key":1,"val":2,"time":3}`, `{"KEY":1,"val":2,"time":3}`, `{"key":1,"Val":2,"time":3}`,
		`{"key":1,"val":2,"Time":3}`, `{"key":1,"val":2,"time":3,"Diff":1}`, `{"key ":1,"val":2,"time":3}`,
		`{"":1,"key":1,"val":2,"time":3}`, `{"key":"","val":"","time":0}`, `{"key":1,"val":2,"time":3,"\u0064iff":4}`,
		`{"key":1,"val":2,"time":3,"diff":4,"d\u0069ff":5}`, `{"k\u0065y":1,"key":1,"val":2,"time":3}`,
		`{"key":1,"val":2,"time":3,"diff":null}`, `{"key":1,"val":2,"time":null}`, `{"key":null,"val":null,"time":0}`,
		"{\"key\":1,\"val\":2,\"time\":3}\x00", "\x00{\"key\":1,\"val\":2,\"time\":3}", "{\"key\":1,\"val\":2,\"time\":3}\v",
		"\v{\"key\":1,\"val\":2,\"time\":3}", "{\"key\":1,\f\"val\":2,\"time\":3}", "{\"key\":1,\u00a0\"val\":2,\"time\":3}",
		"{\"key\":1,\"val\":2,\"time\":3}\u00a0", "\ufeff{\"key\":1,\"val\":2,\"time\":3}", "{\"key\":1,\ufeff\"val\":2,\"time\":3}",
		"\t{\t\"key\"\t:\t1\t,\r\"val\"\r:\r2\r,\n\"time\"\n:\n3\n}\r\n",
		`{"key":1,"val":2,"time":3}{}`, `{"key":1,"val":2,"time":3}]`, `{"key":1,"val":2,"time":3}}`,
		`{"key":1,"val":2,"time":3,"diff":1,}`, `{,"key":1,"val":2,"time":3}`, `{"key":1,,"val":2,"time":3}`,
		`{"key"::1,"val":2,"time":3}`, `{"key":1:"val":2,"time":3}`, `{"key" 1,"val":2,"time":3}`,
	}
	for _, tm := range []string{
		`0`, `-0`, `01`, `00`, `1.0`, `1e3`, `1E3`, `"1"`, `+1`, `-1`, `18446744073709551615`, `18446744073709551616`,
		`99999999999999999999`, `184467440737095516150`, `0.0`, `true`, `[]`, `{}`, `1 `, ` 1`, `1e0`,
	} {
		lines = append(lines, `{"key":1,"val":2,"time":`+tm+`}`)
		lines = append(lines, `{"key":1,"val":2,"time":0,"diff":`+tm+`}`)
	}
	for _, d := range []string{
		`9223372036854775807`, `9223372036854775808`, `-9223372036854775808`, `-9223372036854775809`,
		`-18446744073709551615`, `-18446744073709551616`, `-`, `--1`, `-01`,
	} {
		lines = append(lines, `{"key":1,"val":2,"time":0,"diff":`+d+`}`)
	}
	for _, v := range trickyValues {
		lines = append(lines, `{"key":`+v+`,"val":1,"time":0}`, `{"time":0,"val":`+v+`,"key":[`+v+`]}`)
	}
	return lines
}

// TestTrickyLines holds parseJSONLine, and scanLine within it, to the old
// parser on trickyLines.
func TestTrickyLines(t *testing.T) {
	for _, s := range trickyLines() {
		checkLine(t, []byte(s))
	}
}

func checkLine(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := oldParseJSONLine(b)
	got, err := parseJSONLine(b)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || (err == nil && !sameRecord(got, want)) {
		t.Errorf("parseJSONLine(%.200q) = %.200s, %.200v; want %.200s, %.200v", b, show(got), err, show(want), wantErr)
	}
	if fast, ok := scanLine(b); ok && (wantErr != nil || !sameRecord(fast, want)) {
		t.Errorf("scanLine(%.200q) = %.200s, took it; want %.200s, %.200v", b, show(fast), show(want), wantErr)
	}
}

// TestDeepLines: values nested near and beyond the decoder's limit of
// 10000 (which counts the line's own object) are decided as the old parser
// decides them.
func TestDeepLines(t *testing.T) {
	for _, d := range []int{maxCanonDepth - 1, maxCanonDepth, maxCanonDepth + 1, 9998, 9999, 10000, 10001, 100000} {
		arr := strings.Repeat("[", d) + strings.Repeat("]", d)
		obj := strings.Repeat(`{"a":`, d) + "1" + strings.Repeat("}", d)
		for _, v := range []string{arr, obj} {
			checkLine(t, []byte(`{"key":`+v+`,"val":1,"time":0}`))
			checkLine(t, []byte(`{"key":1,"val":[`+v+`],"time":0}`))
		}
	}
}

// TestRecordsHoldTheirBytes: a Record's Key and Val hold not much more
// memory than their length, which is what persist's BatchBuilder counts,
// however much whitespace or escaping they were read from.
func TestRecordsHoldTheirBytes(t *testing.T) {
	pad := strings.Repeat(" ", 1<<20)
	esc := `"` + strings.Repeat(`\u0041`, 100000) + `"`
	var recs []Record
	for _, line := range []string{
		`{"key":[1,` + pad + `2],"val":` + esc + `,"time":0}`,      // scanLine
		`{"k\u0065y":[1,` + pad + `2],"val":` + esc + `,"time":0}`, // decodeLine
		`{"key":{"a":` + pad + `1},"val":[` + esc + `],"time":0}`,
	} {
		rs, err := ReadJSONL(strings.NewReader(line), "in")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	for _, row := range []string{
		`"[1,` + pad + `2]",1` + pad + `,0`,
		`"` + pad + `{""a"":1}` + pad + `","""x""` + pad + `",0`,
		`"` + strings.ReplaceAll(esc, `"`, `""`) + `",x,0`,
	} {
		rs, err := ReadCSV(strings.NewReader("key,val,time\n"+row+"\n"), "in")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	for i, r := range recs {
		for _, b := range [][]byte{r.Key, r.Val} {
			if cap(b) > 2*len(b)+64 {
				t.Errorf("record %d: %.20s... has length %d, capacity %d", i, b, len(b), cap(b))
			}
		}
	}
}

// TestLoneSurrogateRefused: a \u escape of half a surrogate pair is refused
// in a JSONL line and in a JSON CSV cell, since a decoder reads every such
// escape as U+FFFD and "\ud800", "\udbff" and "\ufffd" would be one key. A
// pair, U+FFFD itself and an escaped backslash before "u" are kept.
func TestLoneSurrogateRefused(t *testing.T) {
	for _, key := range []string{`"\ud800"`, `"\udbff"`, `"\udc00"`, `"x\ud83d\u0041"`, `["\ud800"]`, `{"\ud800":1}`} {
		if _, err := parseJSONLine([]byte(`{"key":` + key + `,"val":1,"time":0}`)); err == nil || !strings.Contains(err.Error(), "surrogate") {
			t.Errorf("key %s: %v, want a surrogate error", key, err)
		}
		if _, err := csvJSON(key); err == nil || !strings.Contains(err.Error(), "surrogate") {
			t.Errorf("CSV cell %s: %v, want a surrogate error", key, err)
		}
	}
	for key, want := range map[string]string{`"\ud83d\ude00"`: `"😀"`, `"\ufffd"`: "\"\ufffd\"", `"\\ud800"`: `"\\ud800"`} {
		rec, err := parseJSONLine([]byte(`{"key":` + key + `,"val":1,"time":0}`))
		if err != nil || string(rec.Key) != want {
			t.Errorf("key %s: %s, %v; want %s", key, rec.Key, err, want)
		}
	}
}
