package frontier_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/frontier"
)

// Changing the value Frontier returns copies it first: the multiset's
// frontier stays as it is. Insert used to rewrite it in place (a caller
// computing a meet from an input's frontier moved that input's frontier
// back), and Clear followed by Insert wrote into its storage.
func TestFrontierValueChangesLeaveTheMultiset(t *testing.T) {
	five := frontier.From[frontier.Time](5)
	m := frontier.NewMutableAntichainAt[frontier.Time](5)
	f := m.Frontier()
	f.Insert(3)
	if got := m.Frontier(); !got.Equal(five) || m.LessEqual(4) {
		t.Fatalf("after Insert(3) on the value Frontier returned: m's frontier %v, want [5]", got)
	}
	g := m.Frontier()
	g.Clear()
	g.Insert(7)
	if got := m.Frontier(); !got.Equal(five) {
		t.Fatalf("after Clear and Insert(7) on the value Frontier returned: m's frontier %v, want [5]", got)
	}
	if !f.Equal(frontier.From[frontier.Time](3)) || !g.Equal(frontier.From[frontier.Time](7)) {
		t.Fatalf("the changed values: %v and %v, want [3] and [7]", f, g)
	}
	// Product times: an element incomparable to the frontier is added
	// beside it, in the value only.
	p := frontier.NewMutableAntichainAt(frontier.NewProduct[frontier.Time, frontier.Time](1, 5))
	pf := p.Frontier()
	pf.Insert(frontier.NewProduct[frontier.Time, frontier.Time](5, 1))
	if p.Frontier().Len() != 1 || pf.Len() != 2 {
		t.Fatalf("product: m's frontier %v (want one element), value %v (want two)", p.Frontier(), pf)
	}
}

// TestCountsBeyondInt64Panic: a count summed past the int64 range would
// wrap to another sign, or to zero and drop its time from a frontier; it
// panics instead. Diffs that pass the range on the way and come back
// within it are summed exactly.
func TestCountsBeyondInt64Panic(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			t.Helper()
			if r := recover(); r == nil {
				t.Errorf("%s: no panic", name)
			} else if !strings.Contains(fmt.Sprint(r), "beyond the int64 range") {
				t.Errorf("%s: panic %v", name, r)
			}
		}()
		f()
	}
	mustPanic("to 2^63", func() {
		var c frontier.ChangeBatch[frontier.Time]
		c.Update(3, math.MaxInt64)
		c.Update(3, 1)
		c.Compact()
	})
	mustPanic("to 2^64, which wraps to zero", func() {
		var c frontier.ChangeBatch[frontier.Time]
		c.Extend(frontier.Update[frontier.Time]{3, math.MaxInt64}, frontier.Update[frontier.Time]{3, math.MaxInt64}, frontier.Update[frontier.Time]{3, 2})
		c.IsEmpty()
	})
	mustPanic("below -2^63", func() {
		var c frontier.ChangeBatch[frontier.Time]
		c.Update(3, math.MinInt64)
		c.Update(3, -1)
		c.Updates()
	})
	mustPanic("a mutable antichain's count", func() {
		var m frontier.MutableAntichain[frontier.Time]
		m.Update(3, math.MaxInt64)
		m.Update(3, 1)
		m.Update(2, 1)
		m.Update(2, -1)
	})

	var c frontier.ChangeBatch[frontier.Time]
	c.Extend(frontier.Update[frontier.Time]{3, math.MaxInt64}, frontier.Update[frontier.Time]{3, 5}, frontier.Update[frontier.Time]{3, -10})
	if u := c.Updates(); len(u) != 1 || u[0] != (frontier.Update[frontier.Time]{3, math.MaxInt64 - 5}) {
		t.Fatalf("updates %v, want [{3 %d}]", u, int64(math.MaxInt64-5))
	}
	var m frontier.MutableAntichain[frontier.Time]
	m.Update(3, math.MaxInt64)
	m.Update(3, 1)
	m.Update(3, -2)
	if n := m.CountFor(3); n != math.MaxInt64-1 {
		t.Fatalf("count %d, want %d", n, int64(math.MaxInt64-1))
	}
}
