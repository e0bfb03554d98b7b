package operators_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/operators"
)

type T = frontier.Time

// sink records every (time, record) of s on this worker, in arrival order,
// and fails the test if a record arrives at a time its input frontier has
// already passed.
func sink[D any](t testing.TB, s *dataflow.Stream[T, D], got *[]string) {
	operators.Unary(s, dataflow.Pipeline[D](), "sink", func(c *dataflow.Capability[T], _ *dataflow.Builder[T]) func(*dataflow.InPort[T, D], *dataflow.OutPort[T, struct{}]) {
		c.Drop()
		return func(in *dataflow.InPort[T, D], _ *dataflow.OutPort[T, struct{}]) {
			in.ForEach(func(ref dataflow.CapabilityRef[T], data []D) {
				if f := in.Frontier(); !f.LessEqual(ref.Time()) {
					t.Errorf("sink: records at %d arrived after the input frontier reached %v", ref.Time(), f)
				}
				for _, d := range data {
					*got = append(*got, fmt.Sprintf("%v@%d", d, ref.Time()))
				}
			})
		}
	})
}

// runSingle steps w until its dataflows complete and checks for leaks.
func runSingle(t testing.TB, w *dataflow.Worker) {
	t.Helper()
	for i := 0; w.Step(); i++ {
		if i > 100000 {
			t.Fatal("dataflow did not complete")
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// stepUntil steps w until cond holds, failing after many steps.
func stepUntil(t testing.TB, w *dataflow.Worker, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 100000 {
			t.Fatal("condition never held")
		}
		w.Step()
	}
}

// progressTotal sums the Progress events of a capture.
func progressTotal[D any](events []operators.Event[T, D]) []frontier.Update[T] {
	var c frontier.ChangeBatch[T]
	for _, e := range events {
		if e.Kind == operators.ProgressEvent {
			c.Extend(e.Progress...)
		}
	}
	return c.Drain()
}

// updatesByTime renders the Messages events of captures, consolidated, as
// sorted "data:diff@time" lines, and fails if any (data, time) appears in
// more than one message or with a zero diff: the output must already be
// consolidated.
func updatesByTime[D comparable](t testing.TB, links []*operators.EventLink[T, operators.Update[D]]) string {
	t.Helper()
	type key struct {
		d  D
		tm T
	}
	seen := map[key]int64{}
	for _, l := range links {
		for _, e := range l.Events() {
			if e.Kind != operators.MessagesEvent {
				continue
			}
			for _, u := range e.Data {
				k := key{u.Data, e.Time}
				if _, dup := seen[k]; dup {
					t.Errorf("%v at %d emitted twice", u.Data, e.Time)
				}
				if u.Diff == 0 {
					t.Errorf("%v at %d emitted with diff 0", u.Data, e.Time)
				}
				seen[k] = u.Diff
			}
		}
	}
	lines := make([]string, 0, len(seen))
	for k, d := range seen {
		lines = append(lines, fmt.Sprintf("%v:%d@%d", k.d, d, k.tm))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func frontierOf(ts ...T) frontier.Antichain[T] { return frontier.NewAntichain(ts...) }

// settle steps w at least once (progress made between steps is reported
// by the next one), then until no operator is activated: everything sent
// has been received and processed.
func settle(t testing.TB, w *dataflow.Worker) {
	t.Helper()
	w.Step()
	stepUntil(t, w, w.Idle)
}

// stallTimeout is Config.IdleTimeout for the tests' Execute: a dataflow
// that stops making progress fails with the capabilities that hold it
// open, rather than hanging until go test's own timeout.
const stallTimeout = 30 * time.Second
