package dataflow_test

import (
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

type P = frontier.Product[frontier.Time, frontier.Time]

// An iterative dataflow over (round, iteration) times next to a Time
// dataflow on the same worker: each record goes around a loop that
// advances the iteration until it reaches 5, and the probe shows round r
// complete only once every iteration of it is done.
func TestProductLoopBesideTimeDataflow(t *testing.T) {
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[P, int]
	probe := dataflow.NewProbeHandle[P]()
	seen := map[P]int{}
	dataflow.Dataflow(w, "iterate", func(s *dataflow.Scope[P]) {
		var in *dataflow.Stream[P, int]
		input, in = dataflow.NewInput[int](s)
		loop, back := dataflow.Feedback[int](s, dataflow.InnerSummary[frontier.Time, frontier.Time]{Inner: dataflow.AddTime(1)})
		b := dataflow.NewBuilder(s, "step")
		fresh := dataflow.AddInput(b, in, dataflow.Pipeline[int]())
		again := dataflow.AddInput(b, back, dataflow.Pipeline[int]())
		out, next := dataflow.AddOutput[int](b)
		b.Build(func(caps []*dataflow.Capability[P]) func() {
			caps[0].Drop()
			step := func(ref dataflow.CapabilityRef[P], data []int) {
				kept := data[:0]
				for _, x := range data {
					seen[ref.Time()]++
					if x < 5 {
						kept = append(kept, x+1)
					}
				}
				out.Session(ref).GiveBatch(kept)
			}
			return func() {
				fresh.ForEach(step)
				again.ForEach(step)
			}
		})
		loop.Connect(next)
		dataflow.ProbeWith(next, probe)
	})
	var timeInput *dataflow.InputHandle[T, int]
	dataflow.Dataflow(w, "plain", func(s *dataflow.Scope[T]) {
		var st *dataflow.Stream[T, int]
		timeInput, st = dataflow.NewInput[int](s)
		collect(t, st, dataflow.Pipeline[int](), func(T, int) {})
	})
	timeInput.Close()

	for round := frontier.Time(0); round < 3; round++ {
		input.Send(0)
		input.AdvanceTo(P{Outer: round + 1})
		// (round, i) is incomparable with (round+1, 0): the round is done
		// when no frontier element is in it, whatever its iteration.
		inRound := func() bool {
			for _, e := range probe.Frontier().Elements() {
				if e.Outer <= round {
					return true
				}
			}
			return false
		}
		for inRound() {
			w.Step()
		}
		for i := frontier.Time(0); i <= 5; i++ {
			if n := seen[P{Outer: round, Inner: i}]; n != 1 {
				t.Fatalf("round %d iteration %d seen %d times", round, i, n)
			}
		}
	}
	input.Close()
	for w.Step() {
	}
	if !probe.Done() {
		t.Fatalf("probe at %v", probe.Frontier())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
