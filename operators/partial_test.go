package operators_test

import (
	"slices"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/operators"
)

type P = frontier.Product[frontier.Time, frontier.Time]

func pt(a, b frontier.Time) P { return frontier.NewProduct(a, b) }

// With partially ordered times, a pending time fires as soon as no element
// of the frontier is at or before it, even while an incomparable time is
// still open; Consolidate emits at each such time.
func TestConsolidatePartialOrder(t *testing.T) {
	w := dataflow.NewWorker()
	var a, b *dataflow.InputHandle[P, operators.Update[string]]
	var got []string
	dataflow.Dataflow(w, "product", func(s *dataflow.Scope[P]) {
		var sa, sb *dataflow.Stream[P, operators.Update[string]]
		a, sa = operators.Input[operators.Update[string]](s)
		b, sb = operators.Input[operators.Update[string]](s)
		out := operators.Consolidate(operators.Concat(sa, sb))
		operators.Inspect(out, func(tm P, u operators.Update[string]) {
			got = append(got, u.Data+"@"+tm.String())
		})
	})
	a.AdvanceTo(pt(0, 5))
	a.SendBatch([]operators.Update[string]{{Data: "x", Diff: 1}, {Data: "x", Diff: 1}})
	a.AdvanceTo(pt(0, 9))
	b.AdvanceTo(pt(1, 0))
	b.Send(operators.Update[string]{Data: "y", Diff: 1})
	b.AdvanceTo(pt(1, 3))
	settle(t, w)
	// The frontier is {(0,9), (1,3)}: both (0,5) and (1,0) are complete.
	want := []string{"x@" + pt(0, 5).String(), "y@" + pt(1, 0).String()}
	if !slices.Equal(got, want) {
		t.Fatalf("with the frontier at {(0,9),(1,3)}: got %v, want %v", got, want)
	}
	b.Send(operators.Update[string]{Data: "z", Diff: 1})
	a.AdvanceTo(pt(2, 9)) // the frontier is {(1,3)}: (1,3) is still open
	settle(t, w)
	if len(got) != 2 {
		t.Fatalf("emitted %v before (1,3) was complete", got[2:])
	}
	b.Close()
	a.Close()
	runSingle(t, w)
	if want := append(want, "z@"+pt(1, 3).String()); !slices.Equal(got, want) {
		t.Fatalf("at the end: got %v, want %v", got, want)
	}
}
