package shardsource

import (
	"fmt"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// completeBelow checks that the rows output below the frontier f are
// exactly the model's: the frontier never passes a time with data missing.
func completeBelow(f frontier.Antichain[frontier.Time], got, model []Row) error {
	below := func(rows []Row) []Row {
		var out []Row
		for _, r := range rows {
			if !f.LessEqual(r.Time) {
				out = append(out, r)
			}
		}
		return out
	}
	g, m := consolidated(below(got)), consolidated(below(model))
	if !equalStrings(g, m) {
		return fmt.Errorf("frontier %v passed missing data: below it got %v, want %v", f, g, m)
	}
	return nil
}

// A press of the shutdown buttons on one worker only must not move the
// frontier past data another worker has yet to emit: the pressed worker's
// operators hold their capabilities and drain nothing until every worker
// has pressed, so the dataflow does not finish either. (A fetch operator
// that went on running while it held let it finish. Every batch is listed
// before the press here: TestShutdownLocalPressHoldsListing is the one for
// the descs operator.)
func TestShutdownLocalPressHolds(t *testing.T) {
	for _, which := range []string{"chosen", "other"} {
		t.Run(which, func(t *testing.T) {
			blob := newSlowBlob(mem.NewBlob(), 5, 4*time.Millisecond)
			e := newEnvWithBlob(t, blob)
			var model []Row
			for i := range frontier.Time(10) {
				rows := []Row{row(fmt.Sprintf("a%d", i), i, 1), row(fmt.Sprintf("b%d", i), i, 1)}
				model = append(model, rows...)
				e.appendAt(i, i+1, rows...)
			}
			// The parts from time 5 on are held back until the press, so
			// that each worker, parts assigned in turn, still has some to
			// emit then: the pressed one must not. (Four fetch goroutines
			// a worker, so that the five held back leave some free.)
			var held []string
			for i := frontier.Time(5); i < 10; i++ {
				for _, k := range e.partKeysAt(i) {
					blob.gate(k)
					held = append(held, k)
				}
			}
			asOf := frontier.From[frontier.Time](0)
			cl := runCluster(t, e, 2, 7, Options[string, string]{AsOf: &asOf, Until: frontier.From[frontier.Time](10), FetchConcurrency: 4})
			pressed := ChosenWorker("test_source", 2)
			if which == "other" {
				pressed = 1 - pressed
			}
			cl.tickUntil("frontier >= 1", func() bool { return !cl.probes[0].Frontier().LessThan(1) })
			cl.tokens[pressed].Drop()
			for _, k := range held {
				blob.release(k)
			}
			for range 3000 {
				cl.tick()
				for w, p := range cl.probes {
					if err := completeBelow(p.Frontier(), cl.rows(), model); err != nil {
						t.Fatalf("worker %d pressed only (seed %d), worker %d: %v", pressed, cl.c.Seed, w, err)
					}
				}
			}
			// Nor does the dataflow finish: the pressed worker drains
			// nothing, so its share of the parts is never emitted.
			for w, p := range cl.probes {
				if p.Done() {
					t.Fatalf("worker %d pressed only (seed %d): worker %d's frontier is empty before the others pressed", pressed, cl.c.Seed, w)
				}
			}
			cl.shutdown()
			if !cl.probes[0].Done() {
				t.Fatalf("frontier %v after every worker pressed", cl.probes[0].Frontier())
			}
		})
	}
}

// A press on the chosen worker only, while the source follows the shard,
// must hold the frontier where the listing is: batches appended after the
// press are not listed, so no row of theirs is emitted, and the frontier
// must not pass them. (A descs operator that dropped its capability in
// Holding let the frontier go past every time once the parts listed before
// the press were emitted. One that went on draining its listen goroutine
// in Holding listed them, and the worker not pressed emitted their rows:
// the frontier check alone did not see it, the fetch operator's held input
// holding the frontier back.)
func TestShutdownLocalPressHoldsListing(t *testing.T) {
	e := newEnv(t)
	var model []Row
	appendAt := func(i frontier.Time) {
		rows := []Row{row(fmt.Sprintf("a%d", i), i, 1), row(fmt.Sprintf("b%d", i), i, 1)}
		model = append(model, rows...)
		e.appendAt(i, i+1, rows...)
	}
	for i := range frontier.Time(5) {
		appendAt(i)
	}
	asOf := frontier.From[frontier.Time](0)
	cl := runCluster(t, e, 2, 11, Options[string, string]{AsOf: &asOf})
	cl.tickUntil("frontier >= 5", func() bool { return !cl.probes[0].Frontier().LessThan(5) })
	cl.tokens[ChosenWorker("test_source", 2)].Drop()
	for i := frontier.Time(5); i < 10; i++ {
		appendAt(i)
	}
	for range 3000 {
		cl.tick()
		for w, p := range cl.probes {
			if err := completeBelow(p.Frontier(), cl.rows(), model); err != nil {
				t.Fatalf("chosen worker pressed only (seed %d), worker %d: %v", cl.c.Seed, w, err)
			}
		}
		for _, r := range cl.rows() {
			if r.Time >= 5 {
				t.Fatalf("chosen worker pressed only (seed %d): row %s at %d, appended after the press, was emitted", cl.c.Seed, r.Key, r.Time)
			}
		}
	}
	cl.shutdown()
	if !cl.probes[0].Done() {
		t.Fatalf("frontier %v after every worker pressed", cl.probes[0].Frontier())
	}
}
