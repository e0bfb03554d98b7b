package shardsource

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location/mem"
)

type genBatch struct {
	lower, upper frontier.Time
	rows         []Row
}

// TestSourceProperty runs random sources over random shards and checks them
// against a model of the shard: the consolidated output, a monotone frontier
// that never passes a time with data missing, the exact freeze point when a
// part's blob is deleted, and no missing blob while GC and compaction run
// concurrently.
func TestSourceProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		base := goleak.IgnoreCurrent()
		// Shard.
		var batches []genBatch
		var lower frontier.Time
		for range rapid.IntRange(1, 6).Draw(rt, "batches") {
			upper := lower + frontier.Time(rapid.IntRange(1, 3).Draw(rt, "width"))
			b := genBatch{lower: lower, upper: upper}
			for range rapid.IntRange(0, 4).Draw(rt, "rows") {
				b.rows = append(b.rows, Row{
					Key:  []byte(fmt.Sprintf("k%d", rapid.IntRange(0, 4).Draw(rt, "key"))),
					Val:  []byte("v"),
					Time: frontier.Time(rapid.IntRange(int(lower), int(upper)-1).Draw(rt, "time")),
					Diff: int64(rapid.SampledFrom([]int{-1, 1, 2}).Draw(rt, "diff")),
				})
			}
			batches = append(batches, b)
			lower = upper
		}
		shardUpper := lower
		asOf := frontier.Time(rapid.IntRange(0, int(shardUpper)-1).Draw(rt, "asOf"))
		include := rapid.Bool().Draw(rt, "snapshot")
		deleteOne := rapid.IntRange(0, 2).Draw(rt, "delete") == 0
		gc := !deleteOne && rapid.Bool().Draw(rt, "gc")
		// An unregistered source holds nothing, so GC may take what it is
		// about to fetch: it reads only where nothing collects.
		unregistered := !gc && rapid.Bool().Draw(rt, "unregistered")
		var until frontier.Antichain[frontier.Time]
		if deleteOne || rapid.Bool().Draw(rt, "bounded") {
			// A bounded source finishes listing, so it can be quiesced.
			until = frontier.From(frontier.Time(rapid.IntRange(int(asOf)+1, int(shardUpper)+2).Draw(rt, "until")))
			if deleteOne {
				until = frontier.From(min(until.Elements()[0], shardUpper))
			}
		}
		workers := rapid.IntRange(1, 3).Draw(rt, "workers")
		concurrency := rapid.IntRange(1, 4).Draw(rt, "concurrency")
		partSize := int64(rapid.SampledFrom([]int{0, 300}).Draw(rt, "partSize"))
		seed := rapid.Uint64().Draw(rt, "seed")

		// Small parts inline in state (except where a blob must go missing)
		// and writers merging batches, or neither.
		copts := persist.ClientOptions{PartTargetSize: partSize, InlineWriteMaxBytes: -1}
		if !deleteOne && rapid.Bool().Draw(rt, "inline") {
			copts.InlineWriteMaxBytes = 0 // persist's default
		}
		copts.MergeFanIn = rapid.SampledFrom([]int{-1, 2, 8}).Draw(rt, "mergeFanIn")
		blob := newSlowBlob(mem.NewBlob(), seed, time.Duration(rapid.IntRange(0, 2000).Draw(rt, "latencyMicros"))*time.Microsecond)
		e := newEnvClient(t, blob, copts)
		defer e.loc.Close()
		for _, b := range batches {
			e.appendAt(b.lower, b.upper, b.rows...)
		}

		// Model.
		var model []Row
		for _, b := range batches {
			for _, r := range b.rows {
				switch {
				case r.Time <= asOf && include:
					r.Time = asOf
					model = append(model, r)
				case r.Time > asOf && (until.IsEmpty() || !until.LessEqual(r.Time)):
					model = append(model, r)
				}
			}
		}
		wantFrontier := frontier.From(shardUpper)
		if u, ok := until.Single(); ok && u <= shardUpper {
			wantFrontier = frontier.Antichain[frontier.Time]{}
		}

		// Deletion: the part's time is where the source must freeze, if it
		// lists the part at all.
		frozenAt, frozen := frontier.Time(0), false
		if deleteOne {
			st, err := e.client.State(context.Background(), testShard)
			if err != nil {
				rt.Fatal(err)
			}
			var all []persist.PartDesc
			for _, b := range st.Batches {
				all = append(all, b.Parts...)
			}
			if len(all) > 0 {
				p := all[rapid.IntRange(0, len(all)-1).Draw(rt, "victim")]
				if _, err := e.blob.Delete(context.Background(), p.Key); err != nil {
					rt.Fatal(err)
				}
				l, _ := p.BatchLower.Single()
				ub, _ := p.BatchUpper.Single()
				u, _ := until.Single()
				if include && l <= asOf && p.MinTime <= asOf && p.Rows > 0 {
					frozenAt, frozen = asOf, true
				}
				if ub > asOf && p.MaxTime > asOf && max(l, asOf) < u && p.Rows > 0 {
					if ts := max(l, asOf); !frozen || ts < frozenAt {
						frozenAt, frozen = ts, true
					}
				}
			}
		}

		var stopGC func()
		if gc {
			stopGC = runGC(e)
		}
		var errs []error
		var mu sync.Mutex
		opts := Options[string, string]{
			AsOf: ptr(frontier.From(asOf)), Until: until, FetchConcurrency: concurrency, Unregistered: unregistered,
			ErrorHandler: Signal(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }),
		}
		if !include {
			opts.Snapshot = SnapshotExclude
		}
		cl := runClusterNoCleanup(rt, e, workers, seed, opts)
		defer cl.shutdown()

		check := func() {
			prev := frontier.Antichain[frontier.Time]{}
			for i, f := range cl.history {
				if i > 0 && !frontier.LessEqual(prev, f) {
					rt.Fatalf("frontier regressed: %v after %v", f, prev)
				}
				prev = f
			}
			for w, p := range cl.probes {
				if err := completeBelow(p.Frontier(), cl.rows(), model); err != nil {
					rt.Fatalf("worker %d: %v", w, err)
				}
			}
		}
		if frozen {
			cl.tickUntil("the error", func() bool { check(); mu.Lock(); defer mu.Unlock(); return len(errs) > 0 })
			cl.quiesce()
			check()
			if f := cl.probes[0].Frontier(); !f.Equal(frontier.From(frozenAt)) {
				rt.Fatalf("frontier %v with the part at %d missing, want frozen there", f, frozenAt)
			}
		} else {
			cl.tickUntil("the final frontier", func() bool {
				check()
				return cl.probes[0].Frontier().Equal(wantFrontier)
			})
			check()
			mu.Lock()
			if len(errs) > 0 {
				rt.Fatalf("errors: %v", errs)
			}
			mu.Unlock()
			if got, want := consolidated(cl.rows()), consolidated(model); !equalStrings(got, want) {
				rt.Fatalf("got %v\nwant %v", got, want)
			}
		}
		if stopGC != nil {
			stopGC()
		}
		cl.shutdown()
		if err := goleak.Find(base); err != nil {
			rt.Fatalf("leak: frozen=%v workers=%d %v", frozen, workers, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// runGC compacts and collects the shard in a loop until stopped.
func runGC(e *env) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ctx := context.Background()
		for {
			select {
			case <-done:
				return
			default:
			}
			// Either may lose races or find nothing to do; what matters is
			// that the source never sees a missing blob.
			_, _ = e.client.Compact(ctx, testShard)
			_, _ = e.client.GC(ctx, testShard)
			time.Sleep(100 * time.Microsecond) // pacing, not synchronization
		}
	})
	return func() { close(done); wg.Wait() }
}
