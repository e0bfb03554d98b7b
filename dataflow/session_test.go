package dataflow_test

import (
	"testing"

	"github.com/shardflow/shardflow/dataflow"
)

// Records given on an output from outside its operator's logic (here from
// a later operator in the same step, after the output's own operator has
// already run) and the capability then dropped or downgraded: the
// retraction must not be reported before the records, or the frontier
// passes records still to come. (Each ending fails without its flush:
// Drop's and Downgrade's sendBuffered.)
func TestDropAfterForeignSessionSendsFirst(t *testing.T) {
	for _, end := range []struct {
		name string
		fn   func(*dataflow.Capability[T])
	}{
		{"drop", func(c *dataflow.Capability[T]) { c.Drop() }},
		{"downgrade", func(c *dataflow.Capability[T]) { c.Downgrade(5) }},
	} {
		t.Run(end.name, func(t *testing.T) {
			w := dataflow.NewWorker()
			probe := dataflow.NewProbeHandle[T]()
			received := 0
			var held *dataflow.Capability[T]
			dataflow.Dataflow(w, "foreign", func(s *dataflow.Scope[T]) {
				sb := dataflow.NewBuilder(s, "source")
				out, st := dataflow.AddOutput[int](sb)
				sb.Build(func(caps []*dataflow.Capability[T]) func() {
					held = caps[0]
					return nil
				})
				// Built after source, so it runs after source in the first step.
				db := dataflow.NewBuilder(s, "driver")
				given := false
				db.Build(func([]*dataflow.Capability[T]) func() {
					return func() {
						if !given {
							given = true
							out.Session(held).Give(7)
							end.fn(held)
						}
					}
				})
				collect(t, dataflow.ProbeWith(st, probe), dataflow.Pipeline[int](), func(T, int) { received++ })
			})
			for step := 0; w.Step(); step++ {
				if !probe.LessEqual(0) && received == 0 {
					t.Fatalf("step %d: probe passed 0 before the record given at 0 arrived", step)
				}
				if received == 1 && held.Valid() {
					held.Drop()
				}
			}
			if received != 1 {
				t.Fatalf("received %d records, want 1", received)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A Session outlives neither its capability nor its CapabilityRef: giving
// on it after the capability was downgraded or dropped, or after the
// message was released, panics instead of sending at a time the frontier
// may already have passed.
func TestSessionExpires(t *testing.T) {
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[T, int]
	refChecks := 0
	dataflow.Dataflow(w, "expiry", func(s *dataflow.Scope[T]) {
		var st *dataflow.Stream[T, int]
		input, st = dataflow.NewInput[int](s)
		b := dataflow.NewBuilder(s, "holder")
		in := dataflow.AddInput(b, st, dataflow.Pipeline[int]())
		out, _ := dataflow.AddOutput[int](b)
		var stale dataflow.Session[T, int]
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			c := caps[0].Delayed(2)
			s := out.Session(c)
			s.Give(1)
			c.Downgrade(3)
			mustPanicWith(t, "Give after Downgrade", dataflow.ErrSessionExpired, func() { s.Give(2) })
			c.Drop()
			mustPanicWith(t, "GiveBatch after Drop", dataflow.ErrSessionExpired, func() { s.GiveBatch([]int{3}) })
			caps[0].Drop()
			return func() {
				in.ForEach(func(ref dataflow.CapabilityRef[T], data []int) {
					if stale != (dataflow.Session[T, int]{}) {
						refChecks++
						mustPanicWith(t, "Give on an expired ref", dataflow.ErrSessionExpired, func() { stale.Give(4) })
					}
					stale = out.Session(ref)
					stale.Give(data[0])
				})
			}
		})
	})
	input.Send(10)
	input.AdvanceTo(1)
	input.Send(11)
	input.Close()
	for w.Step() {
	}
	if refChecks != 1 {
		t.Fatalf("the expired ref was tried %d times, want 1", refChecks)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustPanicWith(t *testing.T, what string, target error, f func()) {
	t.Helper()
	defer func() {
		v := recover()
		err, ok := v.(error)
		if !ok || !errorsIs(err, target) {
			t.Fatalf("%s: panicked with %v, want %v", what, v, target)
		}
	}()
	f()
}
