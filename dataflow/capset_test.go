package dataflow_test

import (
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// A CapabilitySet keeps the minimal times of one output, drops what it
// replaces, and refuses another output's capability instead of letting it
// silently replace one of its own, and a capability it holds already.
func TestCapabilitySet(t *testing.T) {
	w := dataflow.NewWorker()
	var caps []*dataflow.Capability[T]
	dataflow.Dataflow(w, "set", func(s *dataflow.Scope[T]) {
		b := dataflow.NewBuilder(s, "two-outputs")
		dataflow.AddOutput[int](b)
		dataflow.AddOutput[int](b)
		b.Build(func(c []*dataflow.Capability[T]) func() { caps = c; return nil })
	})
	mustPanic(t, "a set of two outputs", func() { dataflow.NewCapabilitySet(caps...) })
	set := dataflow.NewCapabilitySet(caps[0])
	late := caps[0].Delayed(4)
	set.Insert(late) // dominated by the one at 0: dropped
	if late.Valid() || set.Frontier().String() != "[0]" {
		t.Fatalf("after inserting 4: %v, inserted valid %v", set.Frontier(), late.Valid())
	}
	// Inserting a capability it holds would drop it as covered by itself,
	// leaving it dropped in the set.
	mustPanic(t, "inserting a held capability", func() { set.Insert(caps[0]) })
	if !caps[0].Valid() || set.Frontier().String() != "[0]" {
		t.Fatalf("after the refused Insert: %v, held valid %v", set.Frontier(), caps[0].Valid())
	}
	set.Downgrade(frontier.NewAntichain[T](3))
	if got := set.Frontier().String(); got != "[3]" || caps[0].Valid() {
		t.Fatalf("after Downgrade([3]): %v, old capability valid %v", got, caps[0].Valid())
	}
	if _, ok := set.Get(2); ok {
		t.Fatal("Get(2) found a capability in a set at [3]")
	}
	mustPanic(t, "Downgrade before the set", func() { set.Downgrade(frontier.NewAntichain[T](1)) })
	set.Drop()
	caps[1].Drop()
	if live := w.LiveCapabilities(); len(live) != 0 {
		t.Fatalf("live %v after dropping everything", live)
	}
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// Inserting a dropped capability panics at once with ErrDropped. Taken in,
// it would drop the held capabilities it covers, so the output's frontier
// moved on while the set still reported a time before it, and an empty
// set would report a frontier it does not hold until some later use.
func TestCapabilitySetRefusesDropped(t *testing.T) {
	w := dataflow.NewWorker()
	var root *dataflow.Capability[T]
	dataflow.Dataflow(w, "set", func(s *dataflow.Scope[T]) {
		b := dataflow.NewBuilder(s, "one-output")
		dataflow.AddOutput[int](b)
		b.Build(func(c []*dataflow.Capability[T]) func() { root = c[0]; return nil })
	})
	set := dataflow.NewCapabilitySet(root.Delayed(5))
	early := root.Delayed(3)
	early.Drop()
	mustPanicWith(t, "inserting a dropped capability", dataflow.ErrDropped, func() { set.Insert(early) })
	if got := set.Frontier().String(); got != "[5]" {
		t.Fatalf("after the refused Insert the set is at %v, want [5]", got)
	}
	if held, ok := set.Get(5); !ok || !held.Valid() {
		t.Fatalf("the held capability at 5: found %v, valid %v", ok, ok && held.Valid())
	}
	var empty dataflow.CapabilitySet[T]
	mustPanicWith(t, "inserting a dropped capability into an empty set", dataflow.ErrDropped, func() { empty.Insert(early) })
	if !empty.IsEmpty() {
		t.Fatalf("the empty set took a dropped capability: %v", empty.Frontier())
	}
	set.Drop()
	root.Drop()
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A Downgrade refused because one element of the frontier is not at or
// after any held capability mints nothing and leaves the set as it was:
// the capabilities it would have minted for the elements before that one
// would be owned by nobody, live forever and stall every frontier
// downstream. Only partial orders reach this: (1,5) is after the held
// (1,1), (2,0) is not.
func TestCapabilitySetDowngradePanicMintsNothing(t *testing.T) {
	w := dataflow.NewWorker()
	var set *dataflow.CapabilitySet[P]
	dataflow.Dataflow(w, "refused downgrade", func(s *dataflow.Scope[P]) {
		b := dataflow.NewBuilder(s, "op")
		dataflow.AddOutput[int](b)
		b.Build(func(caps []*dataflow.Capability[P]) func() {
			caps[0].Downgrade(frontier.NewProduct[frontier.Time, frontier.Time](1, 1))
			set = dataflow.NewCapabilitySet(caps[0])
			return nil
		})
	})
	f := frontier.NewAntichain(
		frontier.NewProduct[frontier.Time, frontier.Time](1, 5),
		frontier.NewProduct[frontier.Time, frontier.Time](2, 0),
	)
	mustPanicWith(t, "Downgrade to [(1,5) (2,0)] from [(1,1)]", dataflow.ErrNotDelayed, func() { set.Downgrade(f) })
	if got, want := set.Frontier().String(), frontier.NewAntichain(frontier.NewProduct[frontier.Time, frontier.Time](1, 1)).String(); got != want {
		t.Fatalf("after a refused Downgrade the set holds %v, want %v", got, want)
	}
	if live := w.LiveCapabilities(); len(live) != 1 {
		t.Fatalf("after a refused Downgrade, live %v: want only the set's capability", live)
	}
	set.Drop()
	if live := w.LiveCapabilities(); len(live) != 0 {
		t.Fatalf("after a refused Downgrade and Drop, capabilities still live: %v", live)
	}
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
