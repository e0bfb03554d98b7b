package dataflow

import (
	"slices"

	"github.com/shardflow/shardflow/frontier"
)

// CapabilitySet holds capabilities for one output at mutually incomparable
// times: the operator's current frontier for that output. It is the usual
// way for an operator to follow an input frontier with its capabilities.
type CapabilitySet[T frontier.Timestamp[T]] struct {
	caps []*Capability[T]
}

// NewCapabilitySet returns a set holding caps (see Insert).
func NewCapabilitySet[T frontier.Timestamp[T]](caps ...*Capability[T]) *CapabilitySet[T] {
	s := &CapabilitySet[T]{}
	for _, c := range caps {
		s.Insert(c)
	}
	return s
}

// Insert adds c to the set, which takes ownership of it. If a held
// capability is already at or before c's time, c is dropped; held
// capabilities at or after c's time are dropped. c must be valid, for the
// same output of the same operator as those held, and not one the set
// holds already; Insert panics otherwise (a dropped capability would
// replace held ones, one output's capability silently replace another's,
// or a held one be dropped while still in the set).
func (s *CapabilitySet[T]) Insert(c *Capability[T]) {
	if !c.Valid() {
		// Taken in, it would drop the held capabilities it covers while
		// the set went on reporting its time.
		panic(&CapabilityError{Op: "Insert", Operator: c.op.name, Time: c.time, Request: c.time, Reason: ErrDropped})
	}
	if len(s.caps) > 0 && (s.caps[0].op != c.op || s.caps[0].output != c.output) {
		panic("dataflow: CapabilitySet.Insert of a capability of " + c.op.name +
			" for another output than the set's")
	}
	if slices.Contains(s.caps, c) {
		// Dropping it as covered by itself would leave a dropped
		// capability in the set.
		panic("dataflow: CapabilitySet.Insert of a capability of " + c.op.name + " the set holds already")
	}
	for _, h := range s.caps {
		if h.time.LessEqual(c.time) {
			c.Drop()
			return
		}
	}
	s.caps = slices.DeleteFunc(s.caps, func(h *Capability[T]) bool {
		if c.time.LessEqual(h.time) {
			h.Drop()
			return true
		}
		return false
	})
	s.caps = append(s.caps, c)
}

// Delayed returns a new capability at t minted from a held one at or before
// t, reporting false if there is none.
func (s *CapabilitySet[T]) Delayed(t T) (*Capability[T], bool) {
	for _, h := range s.caps {
		if h.time.LessEqual(t) {
			return h.Delayed(t), true
		}
	}
	return nil, false
}

// Get returns a held capability at or before t, reporting false if there is
// none. The capability stays the set's.
func (s *CapabilitySet[T]) Get(t T) (*Capability[T], bool) {
	for _, h := range s.caps {
		if h.time.LessEqual(t) {
			return h, true
		}
	}
	return nil, false
}

// Downgrade replaces the held capabilities by capabilities at the elements
// of f, each of which must be at or after some held capability (it panics
// otherwise). An empty f drops everything.
func (s *CapabilitySet[T]) Downgrade(f frontier.Antichain[T]) {
	// Check every element before minting any: with a partial order one
	// element may be refused after others were minted, and a program that
	// recovers the panic would be left with capabilities nobody owns.
	for _, t := range f.Elements() {
		if _, ok := s.Get(t); !ok {
			panic(&CapabilityError{Op: "Downgrade", Operator: "CapabilitySet", Time: s.Frontier(), Request: t, Reason: ErrNotDelayed})
		}
	}
	next := make([]*Capability[T], 0, f.Len())
	for _, t := range f.Elements() {
		c, _ := s.Delayed(t)
		next = append(next, c)
	}
	for _, h := range s.caps {
		h.Drop()
	}
	s.caps = next
}

// Drop drops every held capability.
func (s *CapabilitySet[T]) Drop() {
	for _, h := range s.caps {
		h.Drop()
	}
	s.caps = s.caps[:0]
}

// IsEmpty reports whether the set holds no capability.
func (s *CapabilitySet[T]) IsEmpty() bool { return len(s.caps) == 0 }

// Elements returns the held capabilities; they stay the set's.
func (s *CapabilitySet[T]) Elements() []*Capability[T] { return s.caps }

// Frontier returns the times of the held capabilities.
func (s *CapabilitySet[T]) Frontier() frontier.Antichain[T] {
	var a frontier.Antichain[T]
	for _, h := range s.caps {
		a.Insert(h.time)
	}
	return a
}
