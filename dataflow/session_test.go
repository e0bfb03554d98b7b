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

// An input is read only by its own operator, from its logic. Read from a
// later operator's logic in the same step, or from driving code between
// steps, the message's time was released at once while the CapabilityRef
// stayed valid until the owner next ran: a session at it buffered records
// the owner sent only then, after the frontier had passed their time, and
// Retain minted a capability the frontier had passed (it moved back).
// Next now panics there. (Both cases fail without the check in Next.)
func TestInputReadOutsideItsLogicPanics(t *testing.T) {
	for _, where := range []string{"another operator", "driving code"} {
		t.Run(where, func(t *testing.T) {
			w := dataflow.NewWorker()
			probe := dataflow.NewProbeHandle[T]()
			var input *dataflow.InputHandle[T, int]
			var bin *dataflow.InPort[T, int]
			var bout *dataflow.OutPort[T, int]
			var actB, actOther *dataflow.Activator
			var otherRead func()
			drain := false
			received, late := 0, 0
			dataflow.Dataflow(w, "outside", func(s *dataflow.Scope[T]) {
				h, st := dataflow.NewInput[int](s)
				input = h
				b := dataflow.NewBuilder(s, "owner")
				bin = dataflow.AddInput(b, st, dataflow.Pipeline[int]())
				var out *dataflow.Stream[T, int]
				bout, out = dataflow.AddOutput[int](b)
				b.SetNotify(0, false)
				actB = b.Activator()
				b.Build(func(caps []*dataflow.Capability[T]) func() {
					caps[0].Drop()
					return func() {
						if drain { // until then it leaves its messages queued
							bin.ForEach(func(ref dataflow.CapabilityRef[T], data []int) {
								bout.SessionAt(ref).GiveSlice(data)
							})
						}
					}
				})
				// Built after owner, so it runs after owner in a step.
				o := dataflow.NewBuilder(s, "other")
				actOther = o.Activator()
				o.Build(func([]*dataflow.Capability[T]) func() {
					return func() {
						if otherRead != nil {
							otherRead()
						}
					}
				})
				collect(t, dataflow.ProbeWith(out, probe), dataflow.Pipeline[int](), func(tm T, _ int) {
					received++
					if !probe.LessEqual(tm) {
						late++
					}
				})
			})
			input.Send(7)
			input.AdvanceTo(1)
			for range 3 {
				w.Step()
			}
			read := func() {
				ref, data, ok := bin.Next()
				if ok {
					bout.SessionAt(ref).GiveSlice(data)
				}
			}
			if where == "driving code" {
				mustPanic(t, "Next from driving code", read)
			} else {
				panicked := false
				otherRead = func() {
					defer func() { panicked = recover() != nil }()
					read()
				}
				actB.Activate()
				actOther.Activate()
				w.Step()
				if !panicked {
					t.Fatal("Next from another operator's logic did not panic")
				}
			}
			// The message is still queued, and its time still held.
			if !bin.Pending() || !probe.LessEqual(0) {
				t.Fatalf("after the refused read: pending %v, probe at %v", bin.Pending(), probe.Frontier())
			}
			// The owner reads it and sends it on, before the frontier passes 0.
			drain = true
			actB.Activate()
			input.Close()
			for steps := 0; w.Step(); steps++ {
				if steps == 1000 {
					t.Fatal("the dataflow did not finish in 1000 steps")
				}
			}
			if received != 1 || late != 0 {
				t.Fatalf("received %d records (%d after the probe passed their time), want 1 (0)", received, late)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
