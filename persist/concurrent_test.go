package persist

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/persisttest"
)

// Writers in several clients race to append one-row batches while
// compare-and-sets fail at random, some after taking effect. Every
// acknowledged append is in the shard exactly once; an append that failed
// definitely is absent; none is applied twice.
func TestConcurrentWritersWithFaults(t *testing.T) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("faults seed %d", seed)
	e := newEnv()
	faults := persisttest.NewFaults(seed)
	faults.SetOpRates(persisttest.OpConsensusCAS, 0.05, 0.2)
	loc := Location{Blob: e.blob, Consensus: persisttest.NewFaultyConsensus(e.cons, faults)}

	type result struct {
		key string
		err error
	}
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	for wi := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NewClient(loc, ClientOptions{Clock: e.clock, CASRetries: 2})
			var w *WriteHandle
			for w == nil {
				w, _ = c.OpenWriter(ctx, "s")
			}
			for i := range 25 {
				key := fmt.Sprintf("w%d-%d", wi, i)
				upper, err := w.FetchUpper(ctx)
				if err != nil {
					continue
				}
				u, _ := upper.Single()
				err = w.CompareAndAppend(ctx, []Update{up(key, "", u, 1)}, upper, frontier.From(u+1))
				// A lost race (*UpperMismatchError) is a definite failure
				// like any determinate one: checked absent below.
				mu.Lock()
				results = append(results, result{key, err})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	c := NewClient(Location{Blob: e.blob, Consensus: e.cons}, ClientOptions{Clock: e.clock})
	st, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	upper, _ := st.Upper.Single()
	r, err := c.OpenReader(ctx, "s", "check")
	if err != nil {
		t.Fatal(err)
	}
	if upper == 0 {
		t.Fatal("nothing was appended")
	}
	parts, err := r.Snapshot(ctx, upper-1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fetchAll(ctx, c, parts)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]int64{}
	for row, d := range got {
		present[row.Key] += d
	}
	acked := 0
	for _, res := range results {
		switch {
		case res.err == nil:
			acked++
			if present[res.key] != 1 {
				t.Errorf("acknowledged append %s present %d times", res.key, present[res.key])
			}
		case !location.IsIndeterminate(res.err):
			if present[res.key] != 0 {
				t.Errorf("append %s failed definitely (%v) but is present", res.key, res.err)
			}
		}
	}
	for k, n := range present {
		if n != 1 {
			t.Errorf("%s present %d times", k, n)
		}
	}
	if int(upper) != len(present) {
		t.Errorf("upper %d but %d rows: an append was applied twice or lost", upper, len(present))
	}
	t.Logf("%d acknowledged, %d in the shard, %d faults", acked, len(present),
		faults.Injected(persisttest.Determinate)+faults.Injected(persisttest.IndeterminateApplied)+faults.Injected(persisttest.IndeterminateLost))
	if acked == 0 {
		t.Fatal("no append succeeded")
	}
}
