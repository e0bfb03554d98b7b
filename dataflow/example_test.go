package dataflow_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"

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

// Two workers on their own goroutines: each feeds ten records, and an
// Exchange pact routes every record to the worker its hash names. Execute
// returns once both workers' dataflows have completed.
func ExampleExecute() {
	var mu sync.Mutex
	received := make([][]int, 2)
	err := dataflow.Execute(dataflow.Config{Workers: 2}, func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "route", func(s *dataflow.Scope[T]) {
			input, stream := dataflow.NewInput[int](s)
			b := dataflow.NewBuilder(s, "sink")
			in := dataflow.AddInput(b, stream, dataflow.Exchange(func(d int) uint64 { return uint64(d) }))
			b.Build(func([]*dataflow.Capability[T]) func() {
				return func() {
					in.ForEach(func(_ dataflow.CapabilityRef[T], data []int) {
						mu.Lock()
						received[w.Index()] = append(received[w.Index()], data...)
						mu.Unlock()
					})
				}
			})
			for i := range 10 {
				input.Send(10*w.Index() + i)
			}
			input.Close()
		})
	})
	for i, r := range received {
		slices.Sort(r)
		fmt.Println("worker", i, "received", r)
	}
	fmt.Println("error:", err)
	// Output:
	// worker 0 received [0 2 4 6 8 10 12 14 16 18]
	// worker 1 received [1 3 5 7 9 11 13 15 17 19]
	// error: <nil>
}

// A capability that is never dropped holds back the frontier forever; the
// worker lists it, with the operator that holds it.
func ExampleWorker_LiveCapabilities() {
	w := dataflow.NewWorker()
	dataflow.Dataflow(w, "leaky", func(s *dataflow.Scope[T]) {
		b := dataflow.NewBuilder(s, "forgetful")
		dataflow.AddOutput[int](b)
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			caps[0].Downgrade(3) // never dropped
			return nil
		})
	})
	w.Step()
	for _, c := range w.LiveCapabilities() {
		fmt.Println(c)
	}
	fmt.Println(errors.Is(w.Close(), dataflow.ErrLeakedCapabilities))
	// Output:
	// leaky/forgetful (op 0) output 0 at 3 on worker 0
	// true
}
