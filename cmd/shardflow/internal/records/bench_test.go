package records

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// BenchmarkReadJSONL parses the rows a typical shard holds: string keys,
// number and string values.
func BenchmarkReadJSONL(b *testing.B) {
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "{\"key\": \"user-%06d\", \"val\": %d, \"time\": %d, \"diff\": 1}\n", i, i*7, i/100)
		fmt.Fprintf(&sb, "{\"key\": \"item-%06d\", \"val\": \"name %d\", \"time\": %d}\n", i, i, i/100)
	}
	benchRead(b, sb.String(), ReadJSONL, 20000, "ns/line")
}

// BenchmarkReadJSONLMixed parses rows with nested values, strings beyond
// ASCII and strings with escapes: the rows the fast path still decodes.
func BenchmarkReadJSONLMixed(b *testing.B) {
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "{\"key\": \"fruit-%d\", \"val\": {\"stock\": %d, \"price\": %d.5}, \"time\": %d}\n", i, i%50, i%7, i/100)
		fmt.Fprintf(&sb, "{\"key\": \"café-%d\", \"val\": \"crème \\\"brûlée\\\" %d\", \"time\": %d, \"diff\": -1}\n", i, i, i/100)
	}
	benchRead(b, sb.String(), ReadJSONL, 20000, "ns/line")
}

// BenchmarkReadCSV parses CSV rows with plain strings, numbers, nested
// values and strings beyond ASCII in their key and val cells.
func BenchmarkReadCSV(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("key,val,time,diff\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "user-%06d,%d,%d,1\n", i, i*7, i/100)
		fmt.Fprintf(&sb, "\"{\"\"id\"\": %d, \"\"kind\"\": \"\"fruit\"\"}\",\"{\"\"stock\"\": %d, \"\"price\"\": %d.5, \"\"tags\"\": [\"\"a\"\", \"\"b\"\"]}\",%d,-1\n", i, i%50, i%7, i/100)
		fmt.Fprintf(&sb, "\"\"\"café-%d\"\"\",crème brûlée %d,%d,\n", i, i, i/100)
	}
	benchRead(b, sb.String(), ReadCSV, 30000, "ns/row")
}

// BenchmarkCSVCellNested canonicalizes one CSV cell holding a nested value.
func BenchmarkCSVCellNested(b *testing.B) {
	cell := `{"stock": 42, "price": 3.5, "tags": ["a", "b"], "meta": {"id": 7, "kind": "fruit"}}`
	for b.Loop() {
		if _, err := csvJSON(cell); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRead parses in with read, which must return rows records, and
// reports the time per record as unit.
func benchRead(b *testing.B, in string, read func(io.Reader, string) ([]Record, error), rows int, unit string) {
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		recs, err := read(strings.NewReader(in), "bench")
		if err != nil || len(recs) != rows {
			b.Fatal(len(recs), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), unit)
}
