package dataflow_test

import (
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
)

// wokenOperator builds, on w, a dataflow of one operator with a
// SyncActivator and a shutdown button, which counts its runs in *ran and
// drops its capability once the button drains.
func wokenOperator(w *dataflow.Worker, name string) (act *dataflow.SyncActivator, token *dataflow.ShutdownToken, ran *int) {
	ran = new(int)
	dataflow.Dataflow(w, name, func(s *dataflow.Scope[T]) {
		b := dataflow.NewBuilder(s, "woken")
		dataflow.AddOutput[int](b)
		act = b.SyncActivator()
		button, tok := b.ShutdownButton()
		token = tok
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			return func() {
				*ran++
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
	return act, token, ran
}

// A SyncActivator fired many times between two steps lists its operator
// once and runs it once; fired after the dataflow completed, or after the
// worker closed, it neither panics nor holds anything.
func TestSyncActivatorBounded(t *testing.T) {
	w := dataflow.NewWorker()
	act, token, ran := wokenOperator(w, "bounded")
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
	before := *ran
	w.Step()
	if *ran != before+1 {
		t.Fatalf("operator ran %d times in one step after the fires, want 1", *ran-before)
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

// Activations counts what other goroutines send a worker, SyncActivator
// fires and token presses alike, and nothing once it has closed. Park parks
// only an idle worker, wakes on an activation, and tells which it did.
func TestActivationsAndPark(t *testing.T) {
	w := dataflow.NewWorker()
	act, token, ran := wokenOperator(w, "counted")
	w.Step()
	if n := w.Activations(); n != 0 {
		t.Fatalf("Activations = %d before any was sent, want 0", n)
	}
	if w.Park(0) {
		t.Fatal("Park(0) parked")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 250 {
				act.Activate()
			}
		})
	}
	wg.Wait()
	if n := w.Activations(); n != 1000 {
		t.Fatalf("Activations = %d after 1000 fires, want 1000", n)
	}
	if w.Park(dataflow.Forever) {
		t.Fatal("Park parked a worker with activations waiting")
	}
	before := *ran
	w.Step()
	if *ran != before+1 {
		t.Fatalf("operator ran %d times in the step after the fires, want 1", *ran-before)
	}
	if !w.Park(time.Millisecond) {
		t.Fatal("Park did not park an idle worker")
	}
	// Parked (or about to park), the worker wakes on the next activation.
	woke := make(chan struct{})
	go func() {
		defer close(woke)
		w.Park(dataflow.Forever)
	}()
	act.Activate()
	select {
	case <-woke:
	case <-time.After(10 * time.Second):
		t.Fatal("Park(Forever) did not wake on an activation within 10s")
	}
	if n := w.Activations(); n != 1001 {
		t.Fatalf("Activations = %d, want 1001", n)
	}
	token.Press()
	if n := w.Activations(); n != 1002 {
		t.Fatalf("Activations = %d after a token press, want 1002", n)
	}
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	act.Activate()
	if n := w.Activations(); n != 1002 {
		t.Fatalf("Activations = %d after an activation of a closed worker, want 1002", n)
	}
}

// A SyncActivator fired after its dataflow completed does nothing: it
// neither wakes the worker nor makes it busy, nor counts as an activation
// (so an IdleTimeout still sees the worker idle). It used to do all three.
func TestSyncActivatorOfCompletedDataflowDoesNothing(t *testing.T) {
	w := dataflow.NewWorker()
	var act *dataflow.SyncActivator
	dataflow.Dataflow(w, "done", func(s *dataflow.Scope[T]) {
		b := dataflow.NewBuilder(s, "once")
		dataflow.AddOutput[int](b)
		act = b.SyncActivator()
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			caps[0].Drop()
			return nil
		})
	})
	var in *dataflow.InputHandle[T, int]
	dataflow.Dataflow(w, "running", func(s *dataflow.Scope[T]) {
		in, _ = dataflow.NewInput[int](s)
	})
	for w.Running() > 1 {
		w.Step()
	}
	w.Step()
	if !w.Idle() {
		t.Fatal("worker not idle before the activation")
	}
	before := w.Activations()
	act.Activate() // the "done" dataflow has completed
	idle, after := w.Idle(), w.Activations()
	parked := w.Park(time.Millisecond) // not woken: it times out
	in.Close()
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !idle || after != before || !parked {
		t.Fatalf("SyncActivator of a completed dataflow: Idle() = %v (want true), Activations %d -> %d (want unchanged), parked %v (want true)", idle, before, after, parked)
	}
}
