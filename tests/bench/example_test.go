package bench_test

import (
	"context"
	"fmt"
	"os"

	"github.com/shardflow/shardflow/tests/bench"
)

// A report prints as a table, one row per figure; WriteJSON writes the same
// rows as JSON.
func ExampleReport_WriteTable() {
	met := true
	rep := bench.Report{Rows: []bench.Row{{
		ID: "P4", Measure: "Step with 1000 idle operators", Unit: "ns/idle-op",
		Shardflow: 0.07, Goal: "< 10 ns", Met: &met, Note: "no baseline",
	}, {
		ID: "P3", Measure: "10 Map stages vs plain loop", Unit: "ns/record",
		Shardflow: 46, Baseline: 40, Ratio: 1.15, Goal: "ratio <= 1.5", Met: &met,
	}}}
	if err := rep.WriteTable(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ID  MEASURE                        UNIT        SHARDFLOW  BASELINE  RATIO  GOAL          MET  NOTE
	// P4  Step with 1000 idle operators  ns/idle-op  0.07       -         -      < 10 ns       yes  no baseline
	// P3  10 Map stages vs plain loop    ns/record   46         40        1.15   ratio <= 1.5  yes
}

// Run measures; Only picks measures, and the sizes scale each one down.
// Figures depend on the machine, so this example prints only the shape.
func ExampleRun() {
	rep, err := bench.Run(context.Background(), bench.Config{
		Only: []string{"P3", "P4"}, Records: 50_000, Steps: 100, Runs: 1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rep.Rows {
		fmt.Println(r.ID, r.Unit)
	}
	// Output:
	// P3 ns/record
	// P3 ns/record
	// P3 ns/record
	// P4 ns/idle-op
}
