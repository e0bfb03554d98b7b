package records_test

import (
	"fmt"
	"strings"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/records"
)

func ExampleReadJSONL() {
	in := `{"key": "apple", "val": {"stock": 3, "price": 2}, "time": 0}
{"key": "apple", "val": {"price": 2, "stock": 3}, "time": 4, "diff": -1}
`
	recs, err := records.ReadJSONL(strings.NewReader(in), "in.jsonl")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		fmt.Printf("line %d: key %s val %s time %d diff %d\n", r.Line, r.Key, r.Val, r.Time, r.Diff)
	}
	_, err = records.ReadJSONL(strings.NewReader(`{"key": 1, "val": 2, "time": -1}`), "bad.jsonl")
	fmt.Println(err)
	// Output:
	// line 1: key "apple" val {"price":2,"stock":3} time 0 diff 1
	// line 2: key "apple" val {"price":2,"stock":3} time 4 diff -1
	// bad.jsonl:1: "time" must be an integer in [0, 18446744073709551615], got -1
}
