package lease

import (
	"github.com/google/btree"

	"github.com/shardflow/shardflow/frontier"
)

// Manager parks leases at timestamps and releases them once a frontier has
// passed their time: t is passed by frontier f when no element of f is <= t
// (f.LessEqual(t) is false), so no update at t can still arrive.
//
// A Manager is owned by one goroutine (the operator that holds it) and is
// not safe for concurrent use; the leases it releases may be shared with
// other goroutines, which Lease allows.
//
// The frontier never moves back: AdvanceTo an earlier or incomparable
// frontier releases only what it passes and brings nothing back. The empty
// frontier passes every time and releases everything.
type Manager[T frontier.Timestamp[T]] struct {
	// parked holds one entry per distinct time, ordered by T.Compare, each
	// with the leases pushed at that time in push order. For a total order
	// the passed times form a prefix.
	parked *btree.BTreeG[*parkedAt[T]]
	// n counts the leases in parked.
	n int
	// total is set when T is known to be totally ordered (Compare and
	// LessEqual agree), which lets AdvanceTo stop at the first time not
	// passed.
	total bool
}

type parkedAt[T frontier.Timestamp[T]] struct {
	t      T
	leases []*Lease
}

// NewManager returns a Manager with nothing parked.
func NewManager[T frontier.Timestamp[T]]() *Manager[T] {
	var zero T
	_, total := any(zero).(frontier.Time)
	return &Manager[T]{
		parked: btree.NewG(16, func(a, b *parkedAt[T]) bool { return a.t.Compare(b.t) < 0 }),
		total:  total,
	}
}

// PushAt parks l at t. The manager then owns l's handle and releases it when
// a frontier passes t. Pushing at a time an earlier AdvanceTo has already
// passed is allowed; the lease is released at the next AdvanceTo that also
// passes t.
func (m *Manager[T]) PushAt(t T, l *Lease) {
	if e, ok := m.parked.Get(&parkedAt[T]{t: t}); ok {
		e.leases = append(e.leases, l)
	} else {
		m.parked.ReplaceOrInsert(&parkedAt[T]{t: t, leases: []*Lease{l}})
	}
	m.n++
}

// AdvanceTo releases every lease parked at a time f has passed, in time
// order.
func (m *Manager[T]) AdvanceTo(f frontier.Antichain[T]) {
	var passed []*parkedAt[T]
	m.parked.Ascend(func(e *parkedAt[T]) bool {
		if f.LessEqual(e.t) {
			// In a total order every later time is >= e.t and not passed
			// either. In a partial order a later time may be incomparable
			// to every element of f, hence passed: keep looking.
			return !m.total
		}
		passed = append(passed, e)
		return true
	})
	for _, e := range passed {
		m.parked.Delete(e)
		m.n -= len(e.leases)
		for _, l := range e.leases {
			l.Release()
		}
	}
}

// Len returns the number of leases parked.
func (m *Manager[T]) Len() int { return m.n }
