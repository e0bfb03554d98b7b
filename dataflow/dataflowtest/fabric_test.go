package dataflowtest_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/frontier"
)

// Ordered envelopes of one sender to one receiver keep their order; data
// overtakes them in some seeds.
func TestQueueFabricOrder(t *testing.T) {
	overtaken := false
	for seed := uint64(1); seed <= 200; seed++ {
		f := dataflowtest.NewQueueFabric(2)
		r := rand.New(rand.NewPCG(seed, 0))
		// Sequence numbers ride in From/To-independent order: send
		// progress p0, data d, progress p1 from worker 0 to worker 1.
		f.Send(dataflow.Envelope{From: 0, To: 1, Kind: dataflow.ProgressEnvelope})
		f.Send(dataflow.Envelope{From: 0, To: 1, Kind: dataflow.DataEnvelope})
		f.Send(dataflow.Envelope{From: 0, To: 1, Kind: dataflow.ControlEnvelope})
		var kinds []dataflow.EnvelopeKind
		for f.DeliverOne(r) {
			for _, e := range f.Receive(1, nil) {
				kinds = append(kinds, e.Kind)
			}
		}
		if len(kinds) != 3 || f.InFlight() != 0 {
			t.Fatalf("seed %d: delivered %v", seed, kinds)
		}
		var ordered []dataflow.EnvelopeKind
		for _, k := range kinds {
			if k != dataflow.DataEnvelope {
				ordered = append(ordered, k)
			}
		}
		if ordered[0] != dataflow.ProgressEnvelope || ordered[1] != dataflow.ControlEnvelope {
			t.Fatalf("seed %d: ordered envelopes reordered: %v", seed, kinds)
		}
		overtaken = overtaken || kinds[0] == dataflow.DataEnvelope
	}
	if !overtaken {
		t.Fatal("data never overtook progress in 200 seeds")
	}
}

// Two workers stepped on one goroutine, messages delivered in a seeded
// random order; the result does not depend on the order.
func ExampleCluster() {
	c := dataflowtest.NewCluster(2, 42)
	sums := make([]int, 2)
	c.Build(func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "sum", func(s *dataflow.Scope[frontier.Time]) {
			input, stream := dataflow.NewInput[int](s)
			b := dataflow.NewBuilder(s, "sum")
			in := dataflow.AddInput(b, stream, dataflow.Exchange(func(d int) uint64 { return uint64(d) }))
			b.Build(func([]*dataflow.Capability[frontier.Time]) func() {
				return func() {
					in.ForEach(func(_ dataflow.CapabilityRef[frontier.Time], data []int) {
						for _, d := range data {
							sums[w.Index()] += d
						}
					})
				}
			})
			for i := range 10 {
				input.Send(i)
			}
			input.Close()
		})
	})
	if err := c.Run(10000); err != nil {
		fmt.Println(err)
	}
	fmt.Println("even sum", sums[0], "odd sum", sums[1], "close:", c.Close())
	// Output:
	// even sum 40 odd sum 50 close: <nil>
}
