package dataflow

import (
	"math"

	"github.com/shardflow/shardflow/frontier"
)

// Summary describes how a feedback edge advances a timestamp. Apply must
// return a time strictly greater than t (in the partial order), or false when
// the advanced time does not exist (it leaves the loop, for example on
// overflow). A summary that does not strictly advance time would let a cycle
// hold back its own frontier forever; the runtime panics when it sees one.
type Summary[T any] interface {
	Apply(t T) (T, bool)
}

// AddTime is the Summary of frontier.Time that adds a constant, which must be
// at least 1.
type AddTime frontier.Time

// Apply returns t + s, or false if that overflows.
func (s AddTime) Apply(t frontier.Time) (frontier.Time, bool) {
	if uint64(t) > math.MaxUint64-uint64(s) {
		return 0, false
	}
	return t + frontier.Time(s), true
}

// InnerSummary is a Summary of frontier.Product that advances only the inner
// coordinate, the usual summary of a loop inside a nested scope.
type InnerSummary[A frontier.Lattice[A], B frontier.Lattice[B]] struct {
	Inner Summary[B]
}

// Apply advances p.Inner by s.Inner.
func (s InnerSummary[A, B]) Apply(p frontier.Product[A, B]) (frontier.Product[A, B], bool) {
	b, ok := s.Inner.Apply(p.Inner)
	if !ok {
		return p, false
	}
	return frontier.Product[A, B]{Outer: p.Outer, Inner: b}, true
}

// applyStrict applies s, panicking if the result does not strictly advance t.
func applyStrict[T frontier.Timestamp[T]](s Summary[T], t T) (T, bool) {
	r, ok := s.Apply(t)
	if ok && !frontier.LessThan(t, r) {
		panic(&SummaryError{Time: t, Result: r})
	}
	return r, ok
}
