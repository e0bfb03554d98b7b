package records

import (
	"fmt"
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
	in := sb.String()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		recs, err := ReadJSONL(strings.NewReader(in), "bench")
		if err != nil || len(recs) != 20000 {
			b.Fatal(len(recs), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*20000), "ns/line")
}

// BenchmarkReadJSONLMixed parses rows with nested values, strings beyond
// ASCII and strings with escapes: the rows the fast path still decodes.
func BenchmarkReadJSONLMixed(b *testing.B) {
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "{\"key\": \"fruit-%d\", \"val\": {\"stock\": %d, \"price\": %d.5}, \"time\": %d}\n", i, i%50, i%7, i/100)
		fmt.Fprintf(&sb, "{\"key\": \"café-%d\", \"val\": \"crème \\\"brûlée\\\" %d\", \"time\": %d, \"diff\": -1}\n", i, i, i/100)
	}
	in := sb.String()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		recs, err := ReadJSONL(strings.NewReader(in), "bench")
		if err != nil || len(recs) != 20000 {
			b.Fatal(len(recs), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*20000), "ns/line")
}
