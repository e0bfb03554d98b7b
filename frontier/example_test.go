package frontier_test

import (
	"fmt"

	"github.com/shardflow/shardflow/frontier"
)

func ExampleAntichain() {
	type P = frontier.Product[frontier.Time, frontier.Time]
	f := frontier.NewAntichain(P{Outer: 2, Inner: 0}, P{Outer: 0, Inner: 3}, P{Outer: 2, Inner: 5})
	fmt.Println(f)
	fmt.Println("(1, 1) may still appear:", f.LessEqual(P{Outer: 1, Inner: 1}))
	fmt.Println("(3, 4) may still appear:", f.LessEqual(P{Outer: 3, Inner: 4}))
	// Output:
	// [(0, 3), (2, 0)]
	// (1, 1) may still appear: false
	// (3, 4) may still appear: true
}

func ExampleMutableAntichain() {
	var m frontier.MutableAntichain[frontier.Time]
	fmt.Println(m.UpdateIter([]frontier.Update[frontier.Time]{{Time: 3, Diff: 1}, {Time: 5, Diff: 1}}))
	// A retraction that arrives before its addition is tolerated.
	fmt.Println(m.Update(1, -1), m.Frontier())
	fmt.Println(m.Update(3, -1), m.Frontier())
	fmt.Println(m.Update(1, +1), m.Frontier())
	// Output:
	// [{3 1}]
	// [] [3]
	// [{3 -1} {5 1}] [5]
	// [] [5]
}

func ExampleChangeBatch() {
	var cb frontier.ChangeBatch[frontier.Time]
	cb.Update(7, 1)
	cb.Update(2, 3)
	cb.Update(7, -1)
	cb.Update(2, -1)
	fmt.Println(cb.Updates())
	// Output: [{2 2}]
}

func ExampleJoin() {
	a := frontier.From[frontier.Time](3)
	b := frontier.From[frontier.Time](7)
	fmt.Println(frontier.Meet(a, b), frontier.Join(a, b), frontier.LessEqual(a, b))
	// Output: [3] [7] true
}
