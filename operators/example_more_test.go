package operators_test

import (
	"fmt"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/operators"
)

// run steps a single worker until its dataflows complete.
func run(w *dataflow.Worker) {
	for w.Step() {
	}
}

func ExampleFilter() {
	w := dataflow.NewWorker()
	dataflow.Dataflow(w, "filter", func(s *dataflow.Scope[T]) {
		input, nums := operators.Input[int](s)
		evens := operators.Filter(nums, func(x int) bool { return x%2 == 0 })
		operators.Inspect(evens, func(_ T, x int) { fmt.Println(x) })
		input.SendBatch([]int{1, 2, 3, 4})
		input.Close()
	})
	run(w)
	// Output:
	// 2
	// 4
}

func ExampleInspect() {
	w := dataflow.NewWorker()
	dataflow.Dataflow(w, "inspect", func(s *dataflow.Scope[T]) {
		input, words := operators.Input[string](s)
		operators.Inspect(words, func(t T, word string) { fmt.Printf("%s at %d\n", word, t) })
		input.Send("early")
		input.AdvanceTo(3)
		input.Send("late")
		input.Close()
	})
	run(w)
	// Output:
	// early at 0
	// late at 3
}

// Consolidate sums the diffs of equal data at each time once the time is
// complete, and drops what sums to zero.
func ExampleConsolidate() {
	type U = operators.Update[string]
	w := dataflow.NewWorker()
	dataflow.Dataflow(w, "consolidate", func(s *dataflow.Scope[T]) {
		input, ups := operators.Input[U](s)
		operators.Inspect(operators.Consolidate(ups), func(t T, u U) { fmt.Printf("%s %+d at %d\n", u.Data, u.Diff, t) })
		input.SendBatch([]U{{Data: "a", Diff: 1}, {Data: "b", Diff: 1}, {Data: "a", Diff: 2}, {Data: "b", Diff: -1}})
		input.AdvanceTo(1)
		input.Send(U{Data: "a", Diff: -3})
		input.Close()
	})
	run(w)
	// Output:
	// a +3 at 0
	// a -3 at 1
}

// An operator that counts the records of each time and reports the count
// once the time is complete.
func ExampleUnaryNotify() {
	w := dataflow.NewWorker()
	dataflow.Dataflow(w, "count", func(s *dataflow.Scope[T]) {
		input, words := operators.Input[string](s)
		perTime := map[T]int{}
		counts := operators.UnaryNotify(words, dataflow.Pipeline[string](), "count",
			func(in *dataflow.InPort[T, string], out *dataflow.OutPort[T, int], n *operators.Notificator[T]) {
				in.ForEach(func(ref dataflow.CapabilityRef[T], data []string) {
					perTime[ref.Time()] += len(data)
					n.NotifyAt(ref.Retain())
				})
				n.ForEach(func(c *dataflow.Capability[T]) {
					out.Session(c).Give(perTime[c.Time()])
					delete(perTime, c.Time())
				})
			})
		operators.Inspect(counts, func(t T, n int) { fmt.Printf("%d records at %d\n", n, t) })
		input.AdvanceTo(2)
		input.SendBatch([]string{"x", "y"})
		input.AdvanceTo(5)
		input.Send("z")
		input.Close()
	})
	run(w)
	// Output:
	// 2 records at 2
	// 1 records at 5
}
