package lease_test

import (
	"fmt"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
)

func ExampleLease() {
	l := lease.NewWithCallback(7, func(s lease.SeqNo) { fmt.Println("hold on seqno", s, "ended") })
	c := l.Clone()
	fmt.Println(l.Count(), l.Released())
	l.Release()
	l.Release() // a second release of the same handle does nothing
	fmt.Println(c.Count(), c.Released())
	c.Release()
	fmt.Println(c.Count(), c.Released())
	// Output:
	// 2 false
	// 1 false
	// hold on seqno 7 ended
	// 0 true
}

func ExampleManager() {
	m := lease.NewManager[frontier.Time]()
	root := lease.New(3)
	for t := range frontier.Time(4) {
		m.PushAt(t, root.Clone())
	}
	root.Release()

	m.AdvanceTo(frontier.From[frontier.Time](2)) // times 0 and 1 are passed
	fmt.Println(m.Len(), root.Count())
	m.AdvanceTo(frontier.From[frontier.Time](1)) // moving back releases nothing
	fmt.Println(m.Len(), root.Count())
	m.AdvanceTo(frontier.Antichain[frontier.Time]{}) // done: everything
	fmt.Println(m.Len(), root.Count(), root.Released())
	// Output:
	// 2 2
	// 2 2
	// 0 0 true
}
