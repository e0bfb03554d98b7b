package dataflow_test

import (
	"errors"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
)

// buildPanic runs build on w with Dataflow and returns what it panicked
// with, failing the test if it did not.
func buildPanic(t *testing.T, w *dataflow.Worker, name string, build func(*dataflow.Scope[T])) (v any) {
	t.Helper()
	defer func() {
		v = recover()
		if v == nil {
			t.Fatalf("the build of %s did not panic", name)
		}
	}()
	dataflow.Dataflow(w, name, build)
	return nil
}

// A dataflow whose build function panics is discarded like one refused for
// its graph: the panic reaches the caller unchanged, its operators never
// run, its capabilities are gone, and the worker goes on to build and run
// the next dataflow.
func TestPanickedBuildOperatorsNeverRun(t *testing.T) {
	w := dataflow.NewWorker()
	errBuild := errors.New("build failed")
	ran := false
	v := buildPanic(t, w, "broken", func(s *dataflow.Scope[T]) {
		b := dataflow.NewBuilder(s, "op")
		dataflow.AddOutput[int](b)
		b.Build(func([]*dataflow.Capability[T]) func() { return func() { ran = true } })
		panic(errBuild)
	})
	if v != errBuild {
		t.Fatalf("the build panicked with %v, want %v", v, errBuild)
	}
	w.Step()
	if ran {
		t.Fatal("an operator of a dataflow whose build panicked ran")
	}
	if live := w.LiveCapabilities(); len(live) != 0 {
		t.Fatalf("capabilities of a dataflow whose build panicked still live: %v", live)
	}
	freshRuns := 0
	dataflow.Dataflow(w, "fresh", func(s *dataflow.Scope[T]) {
		b := dataflow.NewBuilder(s, "op")
		dataflow.AddOutput[int](b)
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			caps[0].Drop()
			return func() { freshRuns++ }
		})
	})
	for w.Step() {
	}
	if ran || freshRuns != 1 {
		t.Fatalf("after the next dataflow completed: broken ran %v, fresh ran %d times, want false and 1", ran, freshRuns)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// On a worker whose build panics after stepping (so its operators are held
// and a peer's envelopes for the dataflow wait as early), the envelopes are
// dropped and the held operators never run, as for a refused graph. Nothing
// tells the peers, just as for a graph refused on one worker only: the
// peer's copy of the dataflow waits for ever on this worker's initial
// capabilities. (Under Execute, a panic reaching fn's caller aborts every
// worker anyway.)
func TestPanickedBuildDropsPeersEnvelopes(t *testing.T) {
	c := dataflowtest.NewCluster(2, 1)
	ran := make([]map[string]int, 2)
	build := func(w *dataflow.Worker, s *dataflow.Scope[T]) {
		counts := map[string]int{}
		ran[w.Index()] = counts
		pb := dataflow.NewBuilder(s, "producer")
		out, produced := dataflow.AddOutput[int](pb)
		pb.Build(func(caps []*dataflow.Capability[T]) func() {
			if w.Index() == 0 {
				out.Session(caps[0]).GiveBatch([]int{1, 3, 5}) // all for worker 1
			}
			caps[0].Drop()
			return func() { counts["producer"]++ }
		})
		cb := dataflow.NewBuilder(s, "consumer")
		in := dataflow.AddInput(cb, produced, dataflow.Exchange(func(d int) uint64 { return uint64(d) }))
		cb.Build(func([]*dataflow.Capability[T]) func() {
			return func() {
				counts["consumer"]++
				in.ForEach(func(dataflow.CapabilityRef[T], []int) {})
			}
		})
	}
	w0, w1 := c.Workers[0], c.Workers[1]
	dataflow.Dataflow(w0, "exchange", func(s *dataflow.Scope[T]) { build(w0, s) })
	w0.Step()
	c.Fabric.DeliverAll(c.Rand)
	v := buildPanic(t, w1, "exchange", func(s *dataflow.Scope[T]) {
		build(w1, s)
		w1.Step() // takes in worker 0's envelopes, kept for after the build
		if dataflow.EarlyForTest(w1) == 0 {
			t.Fatal("worker 0's envelopes did not wait for the build on worker 1")
		}
		panic("build failed")
	})
	if v != "build failed" {
		t.Fatalf("the build panicked with %v, want %q", v, "build failed")
	}
	if n := dataflow.EarlyForTest(w1); n != 0 {
		t.Fatalf("worker 1 keeps %d envelopes for the dataflow whose build panicked", n)
	}
	for range 3 {
		w0.Step()
		c.Fabric.DeliverAll(c.Rand)
		w1.Step()
	}
	if len(ran[1]) != 0 {
		t.Fatalf("on worker 1, whose build panicked, operators ran: %v", ran[1])
	}
	if live := w1.LiveCapabilities(); len(live) != 0 {
		t.Fatalf("on worker 1, capabilities still live: %v", live)
	}
	if n := dataflow.EarlyForTest(w1); n != 0 {
		t.Fatalf("worker 1 keeps %d envelopes that arrived after the build panicked", n)
	}
	if err := w1.Close(); err != nil {
		t.Fatalf("worker 1: %v", err)
	}
	if err := w0.Close(); !errors.Is(err, dataflow.ErrIncomplete) {
		t.Fatalf("worker 0: %v, want its dataflow still waiting on worker 1 (%v)", err, dataflow.ErrIncomplete)
	}
}
