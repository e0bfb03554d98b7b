package dataflow_test

import (
	"sync"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
)

// A SyncActivator fired many times between two steps lists its operator
// once and runs it once; fired after the dataflow completed, or after the
// worker closed, it neither panics nor holds anything.
func TestSyncActivatorBounded(t *testing.T) {
	w := dataflow.NewWorker()
	var act *dataflow.SyncActivator
	var token *dataflow.ShutdownToken
	ran := 0
	dataflow.Dataflow(w, "bounded", func(s *dataflow.Scope[T]) {
		b := dataflow.NewBuilder(s, "woken")
		dataflow.AddOutput[int](b)
		act = b.SyncActivator()
		button, tok := b.ShutdownButton()
		token = tok
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			return func() {
				ran++
				if button.Phase() == dataflow.Draining {
					for _, c := range caps {
						if c.Valid() {
							c.Drop()
						}
					}
				}
			}
		})
	})
	w.Step()
	fire := func(n int) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range n {
					act.Activate()
				}
			})
		}
		wg.Wait()
	}
	fire(1000)
	if n := dataflow.SyncQueuedForTest(w); n != 1 {
		t.Fatalf("%d activations listed after 4000 fires of one operator, want 1", n)
	}
	before := ran
	w.Step()
	if ran != before+1 {
		t.Fatalf("operator ran %d times in one step after the fires, want 1", ran-before)
	}
	fire(1) // listed again after the step took it
	if n := dataflow.SyncQueuedForTest(w); n != 1 {
		t.Fatalf("%d activations listed, want 1", n)
	}
	token.Press()
	for w.Step() {
	}
	fire(100) // the dataflow has completed
	w.Step()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fire(100)
	token.Press()
	if n := dataflow.SyncQueuedForTest(w); n != 0 {
		t.Fatalf("%d activations listed on a closed worker, want 0", n)
	}
}

// A capability change made by driving code between steps (an input's
// AdvanceTo or Close with nothing buffered) is progress still to report:
// the worker is not idle, and StepOrPark must not park on it.
func TestPendingProgressIsNotIdle(t *testing.T) {
	w := dataflow.NewWorker()
	probe := dataflow.NewProbeHandle[T]()
	var input *dataflow.InputHandle[T, int]
	dataflow.Dataflow(w, "advance", func(s *dataflow.Scope[T]) {
		var st *dataflow.Stream[T, int]
		input, st = dataflow.NewInput[int](s)
		dataflow.ProbeWith(st, probe)
	})
	for !w.Idle() {
		w.Step()
	}
	input.AdvanceTo(3)
	if w.Idle() {
		t.Fatal("idle with an unreported downgrade: StepOrPark(Forever) would park for good")
	}
	w.StepOrPark(dataflow.Forever)
	if probe.LessThan(3) {
		t.Fatalf("probe %v after the step, want [3]", probe.Frontier())
	}
	input.Close()
	if w.Idle() {
		t.Fatal("idle with an unreported drop")
	}
	for w.StepOrPark(dataflow.Forever) {
	}
	if !probe.Done() {
		t.Fatalf("probe %v, want done", probe.Frontier())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
