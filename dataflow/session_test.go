package dataflow_test

import (
	"testing"

	"github.com/shardflow/shardflow/dataflow"
)

// Records given on an output from outside its operator's logic (here from
// a later operator in the same step, after the output's own operator has
// already run) and the capability then dropped: the drop must not be
// reported before the records, or the frontier passes records still to
// come.
func TestDropAfterForeignSessionSendsFirst(t *testing.T) {
	w := dataflow.NewWorker()
	probe := dataflow.NewProbeHandle[T]()
	received := 0
	dataflow.Dataflow(w, "foreign", func(s *dataflow.Scope[T]) {
		sb := dataflow.NewBuilder(s, "source")
		out, st := dataflow.AddOutput[int](sb)
		var held *dataflow.Capability[T]
		sb.Build(func(caps []*dataflow.Capability[T]) func() {
			held = caps[0]
			return nil
		})
		// Built after source, so it runs after source in the first step.
		db := dataflow.NewBuilder(s, "driver")
		db.Build(func([]*dataflow.Capability[T]) func() {
			return func() {
				if held.Valid() {
					out.Session(held).Give(7)
					held.Drop()
				}
			}
		})
		collect(t, dataflow.ProbeWith(st, probe), dataflow.Pipeline[int](), func(T, int) { received++ })
	})
	for step := 0; w.Step(); step++ {
		if probe.Done() && received == 0 {
			t.Fatalf("step %d: probe done before the record given under the dropped capability arrived", step)
		}
	}
	if received != 1 {
		t.Fatalf("received %d records, want 1", received)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
