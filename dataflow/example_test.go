package dataflow_test

import (
	"fmt"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

type T = frontier.Time

// A single worker, stepped by hand: an input, an operator that doubles each
// record, and a probe that tells the driver when a time is complete.
func Example() {
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[T, int]
	probe := dataflow.NewProbeHandle[T]()
	var seen []string
	dataflow.Dataflow(w, "double", func(s *dataflow.Scope[T]) {
		var stream *dataflow.Stream[T, int]
		input, stream = dataflow.NewInput[int](s)
		b := dataflow.NewBuilder(s, "double")
		in := dataflow.AddInput(b, stream, dataflow.Pipeline[int]())
		out, doubled := dataflow.AddOutput[int](b)
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			caps[0].Drop()
			return func() {
				in.ForEach(func(ref dataflow.CapabilityRef[T], data []int) {
					for i := range data {
						seen = append(seen, fmt.Sprintf("%d@%v", data[i]*2, ref.Time()))
						data[i] *= 2
					}
					out.Session(ref).GiveBatch(data)
				})
			}
		})
		dataflow.ProbeWith(doubled, probe)
	})
	for round := T(0); round < 3; round++ {
		input.Send(int(round))
		input.AdvanceTo(round + 1)
		for probe.LessThan(round + 1) {
			w.Step()
		}
		fmt.Println("complete through", round, "seen", seen)
	}
	input.Close()
	for w.Step() {
	}
	fmt.Println("done:", probe.Done(), "leaks:", w.Close())
	// Output:
	// complete through 0 seen [0@0]
	// complete through 1 seen [0@0 2@1]
	// complete through 2 seen [0@0 2@1 4@2]
	// done: true leaks: <nil>
}
