package frontier_test

import (
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
