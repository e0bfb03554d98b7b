package lease_test

import (
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
	"github.com/shardflow/shardflow/persist/location"
)

// TestManagerTenClones parks ten clones of one lease at times 0..9 and
// follows the hold's count as the frontier advances, stalls and moves back.
func TestManagerTenClones(t *testing.T) {
	calls := 0
	root := lease.NewWithCallback(42, func(location.SeqNo) { calls++ })
	m := lease.NewManager[frontier.Time]()
	for ts := range frontier.Time(10) {
		m.PushAt(ts, root.Clone())
	}
	root.Release()

	steps := []struct {
		frontier frontier.Antichain[frontier.Time]
		count    int // live clones == leases still parked
		released bool
	}{
		{frontier.From[frontier.Time](0), 10, false},   // nothing is before 0
		{frontier.From[frontier.Time](5), 5, false},    // 0..4 passed
		{frontier.From[frontier.Time](3), 5, false},    // moving back releases nothing, restores nothing
		{frontier.From[frontier.Time](5), 5, false},    // again: idempotent
		{frontier.From[frontier.Time](9), 1, false},    // 5..8 passed; 9 may still appear
		{frontier.From[frontier.Time](10), 0, true},    // 9 passed: the hold ends
		{frontier.From[frontier.Time](2), 0, true},     // never regresses
		{frontier.Antichain[frontier.Time]{}, 0, true}, // done frontier: nothing left
	}
	for i, s := range steps {
		m.AdvanceTo(s.frontier)
		if root.Count() != s.count || m.Len() != s.count || root.Released() != s.released {
			t.Fatalf("step %d AdvanceTo(%v): count=%d len=%d released=%v, want count=len=%d released=%v",
				i, s.frontier, root.Count(), m.Len(), root.Released(), s.count, s.released)
		}
	}
	if calls != 1 {
		t.Fatalf("callback ran %d times, want 1", calls)
	}
}

func TestManagerEmptyFrontierReleasesAll(t *testing.T) {
	m := lease.NewManager[frontier.Time]()
	var ls []*lease.Lease
	for ts := range frontier.Time(5) {
		l := lease.New(location.SeqNo(ts))
		ls = append(ls, l)
		m.PushAt(ts*1000, l)
		m.PushAt(ts*1000, l.Clone()) // two leases at the same time
	}
	m.AdvanceTo(frontier.Antichain[frontier.Time]{})
	if m.Len() != 0 {
		t.Fatalf("Len = %d after the empty frontier", m.Len())
	}
	for _, l := range ls {
		if !l.Released() {
			t.Fatalf("%v not released by the empty frontier", l)
		}
	}
}

// TestManagerPartialOrder checks "passed" for product times: a time is
// passed when no frontier element is <= it, even if it sorts after an
// element that is not passed.
func TestManagerPartialOrder(t *testing.T) {
	type P = frontier.Product[frontier.Time, frontier.Time]
	p := func(a, b frontier.Time) P { return frontier.NewProduct(a, b) }
	m := lease.NewManager[P]()
	at := map[P]*lease.Lease{}
	for _, ts := range []P{p(0, 5), p(1, 1), p(1, 9), p(2, 0), p(3, 3)} {
		at[ts] = lease.New(1)
		m.PushAt(ts, at[ts])
	}
	// Frontier {(1,2), (3,0)}: (0,5) is below neither element; (1,1) is
	// below neither; (1,9) is >= (1,2); (2,0) is >= neither; (3,3) >= (3,0).
	m.AdvanceTo(frontier.NewAntichain(p(1, 2), p(3, 0)))
	want := map[P]bool{p(0, 5): true, p(1, 1): true, p(1, 9): false, p(2, 0): true, p(3, 3): false}
	for ts, w := range want {
		if at[ts].Released() != w {
			t.Errorf("time %v: released=%v, want %v", ts, at[ts].Released(), w)
		}
	}
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want 2", m.Len())
	}
}
