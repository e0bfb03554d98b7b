package dataflow

import (
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
)

// An activation is counted (Activations) only once the worker can see it
// pending: a Step that begins after the count has grown runs the operator.
// Here the worker reads the count, and steps, while the activating
// goroutine is between setting pending and counting. Counted first (the
// order this replaced), the count included the activation while the Step's
// drainSync saw nothing pending and skipped the operator, and replay's
// quiescence check took the worker for idle.
func TestActivationCountedOnceVisible(t *testing.T) {
	w := NewWorker()
	var act *SyncActivator
	var caps []*Capability[frontier.Time]
	ran := 0
	Dataflow(w, "visible", func(s *Scope[frontier.Time]) {
		b := NewBuilder(s, "woken")
		AddOutput[int](b)
		act = b.SyncActivator()
		b.Build(func(c []*Capability[frontier.Time]) func() {
			caps = c
			return func() { ran++ }
		})
	})
	w.Step()
	before := ran
	var counted uint64
	stepped := make(chan int, 1)
	hook := func() {
		read := make(chan struct{})
		go func() { // the worker
			counted = w.Activations()
			close(read)
			w.Step() // takes sync.mu once the activation returns
			stepped <- ran
		}()
		<-read
	}
	testHookBetweenStores.Store(&hook)
	act.Activate()
	testHookBetweenStores.Store(nil)
	var after int
	select {
	case after = <-stepped:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker's Step did not return within 10s")
	}
	if counted == 1 && after == before {
		t.Fatalf("Activations returned %d before the Step began, yet the Step did not run the operator", counted)
	}
	caps[0].Drop()
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
