package dataflow_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
)

// Scenario tests under testdata/: a two-worker dataflow (a producer that
// holds a capability at time 1 on worker 0 only, exchanged to a consumer)
// driven step by step, printing after each command what every worker
// sees. Commands:
//
//	build seed=N        a new cluster
//	press worker=W      press worker W's shutdown token
//	settle              deliver everything and step until quiet
//	tick n=N            N random steps and deliveries
//	show                print the state
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var c *dataflowtest.Cluster
		var bps []*buttonProducer
		show := func() string {
			var b strings.Builder
			for i, bp := range bps {
				var live []string
				for _, l := range c.Workers[i].LiveCapabilities() {
					live = append(live, fmt.Sprintf("%s@%v", l.Operator, l.Time))
				}
				fmt.Fprintf(&b, "worker %d: consumer frontier %v, button %v, capabilities %v\n",
					i, bp.consumer.Frontier(), bp.button.Phase(), live)
			}
			fmt.Fprintf(&b, "running: %v\n", c.Running())
			return b.String()
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "build":
				var seed uint64
				d.ScanArgs(t, "seed", &seed)
				c = dataflowtest.NewCluster(2, seed)
				bps = nil
				c.Build(func(w *dataflow.Worker) { bps = append(bps, buildButtonDataflow(w)) })
				return show()
			case "press":
				var w int
				d.ScanArgs(t, "worker", &w)
				bps[w].token.Press()
				return ""
			case "settle":
				if err := c.Settle(1000); err != nil {
					t.Fatal(err)
				}
				return show()
			case "tick":
				var n int
				d.ScanArgs(t, "n", &n)
				for range n {
					c.Tick()
				}
				return show()
			case "show":
				return show()
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
		// A scenario that ends with everything completed must leave no
		// capability behind.
		if c != nil {
			running := c.Running()
			if err := c.Close(); err != nil && !running {
				t.Fatal(err)
			}
		}
	})
}
