package shardsource

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// gatedRun starts a source over batches at 0, 1 and 2 whose t=1 part's
// blob read blocks until released, and waits until that fetch has begun.
func gatedRun(t *testing.T, hook func(*Tokens)) (*env, *slowBlob, *single) {
	return gatedRunOpts(t, hook, Options[string, string]{})
}

// gatedEnv is a shard with batches at 0, 1 and 2 (rows a, b, c) whose t=1
// part's blob read blocks until its key, returned, is released.
func gatedEnv(t *testing.T) (*env, *slowBlob, string) {
	blob := newSlowBlob(mem.NewBlob(), 4, 0)
	e := newEnvWithBlob(t, blob)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 2, row("b", 1, 1))
	e.appendAt(2, 3, row("c", 2, 1))
	gated := e.partKeysAt(1)[0]
	blob.gate(gated)
	return e, blob, gated
}

func gatedRunOpts(t *testing.T, hook func(*Tokens), opts Options[string, string]) (*env, *slowBlob, *single) {
	e, blob, _ := gatedEnv(t)
	asOf := frontier.From[frontier.Time](0)
	w := dataflow.NewWorker()
	r := &single{t: t, w: w, probe: dataflow.NewProbeHandle[frontier.Time]()}
	dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
		if opts.Until.IsEmpty() {
			opts.Until = frontier.From[frontier.Time](3) // the three batches of gatedEnv
		}
		opts.AsOf, opts.FetchConcurrency = &asOf, 4
		parts, tokens := Source(s, "test_source", e.clientFn(), testShard, stringOpts(opts))
		hook(tokens)
		r.out = collect(s, parts, r.probe)
		r.tokens = tokens
	})
	t.Cleanup(r.shutdown)
	started := false
	r.stepUntil("the gated fetch to start", func() bool {
		select {
		case <-blob.started:
			started = true
		default:
		}
		return started
	})
	return e, blob, r
}

// A lease is released only after the completed-fetches frontier passes its
// time: while the t=1 fetch hangs, the leases of t=1 and t=2 stay held
// (t=2's fetch is done, but the frontier is still at 1), t=0's goes.
func TestLeaseReleasedOnlyAfterCompletedFrontierPasses(t *testing.T) {
	parked := map[frontier.Time][]*lease.Lease{}
	_, blob, r := gatedRun(t, func(tk *Tokens) {
		tk.inst.onPark = func(ts frontier.Time, l *lease.Lease) { parked[ts] = append(parked[ts], l) }
	})
	released := func(ts frontier.Time) bool {
		for _, l := range parked[ts] {
			if !l.IsReleased() {
				return false
			}
		}
		return len(parked[ts]) > 0
	}
	r.stepUntil("t=0 done and its lease released", func() bool {
		return r.frontier().Equal(frontier.From[frontier.Time](1)) && released(0) && len(parked[2]) > 0
	})
	// Give t=2's fetch every chance to complete while t=1's hangs.
	r.stepUntil("t=2 fetched", func() bool {
		for _, rw := range r.out.rows {
			if rw.Time == 2 {
				return true
			}
		}
		return false
	})
	for range 50 {
		r.w.Step()
	}
	for _, ts := range []frontier.Time{1, 2} {
		for _, l := range parked[ts] {
			if l.IsReleased() {
				t.Fatalf("lease of the parts at %d released while the t=1 fetch is in flight", ts)
			}
		}
	}
	blob.release(e0key(t, blob))
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	r.stepUntil("every lease released", func() bool { return released(0) && released(1) && released(2) })
}

func e0key(t *testing.T, b *slowBlob) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.gates {
		return k
	}
	t.Fatal("no gate")
	return ""
}

// gatedAway routes the gated part to the worker after the chosen one and
// every other part to the chosen worker.
func gatedAway(gated string, workers int) func(*dataflow.Scope[frontier.Time], *dataflow.Stream[frontier.Time, Desc], int) *dataflow.Stream[frontier.Time, Desc] {
	return mapDescs(func(d Desc, chosen int) Desc {
		d.Worker = chosen
		if d.Part.Key == gated {
			d.Worker = (chosen + 1) % workers
		}
		return d
	})
}

// readersWhenGatedReturns records the fewest readers the shard has while
// the gated Get returns (-1 until it has). A cancelled Get lingers before
// returning, watching: a shutdown that did not wait for the fetch would
// expire the reader meanwhile, or finish before the Get returns.
func readersWhenGatedReturns(e *env, blob *slowBlob) *atomic.Int64 {
	readers := func() int64 {
		st, err := e.client.State(context.Background(), testShard)
		if err != nil {
			return -1
		}
		return int64(len(st.Readers))
	}
	var saw atomic.Int64
	saw.Store(-1)
	blob.mu.Lock()
	defer blob.mu.Unlock()
	blob.afterGated = func(_ string, cancelled error) {
		least := readers()
		for deadline := time.Now().Add(200 * time.Millisecond); cancelled != nil && least > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond) // polling for a violation, not waiting on one
			least = min(least, readers())
		}
		saw.Store(least)
	}
	return &saw
}

// The reader outlives every in-flight fetch: shutting down while a fetch
// hangs cancels it, and the reader is expired only after it has returned.
func TestReaderOutlivesInflightFetch(t *testing.T) {
	e, blob, r := gatedRun(t, func(*Tokens) {})
	sawReaders := readersWhenGatedReturns(e, blob)
	r.shutdown()
	if got := sawReaders.Load(); got != 1 {
		t.Fatalf("when the in-flight fetch returned, %d readers were registered, want the source's 1", got)
	}
	if n := e.readers(); n != 0 {
		t.Fatalf("%d readers after shutdown, want 0", n)
	}
}

// GC and compaction while a fetch is in flight never delete the blob it
// reads: the part's lease holds the reader's seqno hold at the state
// version it was listed from, although the source's since (and the
// heartbeat, every millisecond here) would otherwise let GC collect it.
// The source reads one batch more than gatedEnv's three, so that its
// since, one batch behind its listen, passes the hanging t=1 batch.
func TestGCKeepsLeasedParts(t *testing.T) {
	var errs []error
	e, blob, r := gatedRunOpts(t, func(*Tokens) {}, Options[string, string]{
		Until:             frontier.From[frontier.Time](4),
		HeartbeatInterval: time.Millisecond,
		ErrorHandler:      Signal(func(err error) { errs = append(errs, err) }),
	})
	ctx := context.Background()
	e.appendAt(3, 4, row("d", 3, 1))
	r.stepUntil("t=0, t=2 and t=3 done", func() bool { return len(r.out.rows) == 3 })
	r.stepUntil("the source's since past t=1", func() bool {
		st, err := e.client.State(ctx, testShard)
		if err != nil {
			t.Fatal(err)
		}
		return !st.Since.LessEqual(1)
	})
	merged := 0
	for range 20 {
		rep, err := e.client.Compact(ctx, testShard)
		if err != nil {
			t.Fatal(err)
		}
		merged += rep.BatchesMerged
		if _, err := e.client.GC(ctx, testShard); err != nil {
			t.Fatal(err)
		}
		r.w.StepOrPark(time.Millisecond)
	}
	if merged == 0 {
		t.Fatal("compaction merged nothing: the test does not exercise GC")
	}
	blob.release(e0key(t, blob))
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() || len(errs) > 0 })
	if len(errs) > 0 {
		t.Fatalf("a leased part went missing: %v", errs)
	}
	if got := consolidated(r.out.rows); len(got) != 4 {
		t.Fatalf("rows %v", got)
	}
	// Once the source is done its reader is gone and GC may collect the
	// replaced parts.
	r.shutdown()
	rep, err := e.client.GC(ctx, testShard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BlobsDeleted == 0 {
		t.Fatal("GC deleted nothing after the source finished: the hold was never the point")
	}
}

// The lease of a part is held by the chosen worker but released by the
// global completed-fetches frontier: with two workers, the t=1 part is
// fetched on the worker that does not list (its fetch hangs), and the
// chosen worker, whose own fetches are all done, still keeps the leases of
// t=1 and t=2 until that fetch completes elsewhere.
func TestLeaseReleaseWaitsForOtherWorkersFetch(t *testing.T) {
	e, blob, gated := gatedEnv(t)
	const workers = 2
	chosen := ChosenWorker("test_source", workers)
	cl := runCluster(t, e, workers, 1, Options[string, string]{
		AsOf: ptr(frontier.From[frontier.Time](0)), Until: frontier.From[frontier.Time](3), FetchConcurrency: 4,
		DescTransformer: gatedAway(gated, workers),
	})
	parked := map[frontier.Time][]*lease.Lease{}
	cl.tokens[chosen].inst.onPark = func(ts frontier.Time, l *lease.Lease) { parked[ts] = append(parked[ts], l) }
	has := func(w int, key string) bool {
		for _, r := range cl.outs[w].rows {
			if string(r.Key) == key {
				return true
			}
		}
		return false
	}
	cl.tickUntil("the gated fetch to start and the others to finish", func() bool {
		select {
		case <-blob.started:
			blob.started <- gated // keep the signal for the next look
			return len(cl.rows()) == 2 && len(parked[2]) > 0
		default:
			return false
		}
	})
	for range 200 {
		cl.tick()
	}
	for _, ts := range []frontier.Time{1, 2} {
		for _, l := range parked[ts] {
			if l.IsReleased() {
				t.Fatalf("lease of the parts at %d released while the t=1 fetch is in flight on another worker", ts)
			}
		}
	}
	blob.release(gated)
	cl.tickUntil("the empty frontier", func() bool { return cl.probes[0].Frontier().IsEmpty() })
	if has(chosen, "b") || !has(chosen, "a") || !has(chosen, "c") {
		t.Fatalf("the parts were not fetched where routed: the test does not check the global frontier")
	}
	cl.tickUntil("every lease released", func() bool {
		for _, ls := range parked {
			for _, l := range ls {
				if !l.IsReleased() {
					return false
				}
			}
		}
		return true
	})
}

// The reader outlives an in-flight fetch of a worker that does not hold
// it: the t=1 part is fetched for the worker that does not list (its fetch
// hangs), perhaps on a goroutine the listing worker brought to the pool;
// shutting down cancels it, and the listing worker's reader is expired only
// after that fetch has returned.
func TestReaderOutlivesOtherWorkersFetch(t *testing.T) {
	e, blob, gated := gatedEnv(t)
	const workers = 2
	sawReaders := readersWhenGatedReturns(e, blob)
	cl := runCluster(t, e, workers, 2, Options[string, string]{
		AsOf: ptr(frontier.From[frontier.Time](0)), Until: frontier.From[frontier.Time](3), FetchConcurrency: 1,
		DescTransformer: gatedAway(gated, workers),
	})
	started := false
	cl.tickUntil("the gated fetch to start and the others to finish", func() bool {
		select {
		case <-blob.started:
			started = true
		default:
		}
		return started && len(cl.rows()) == 2
	})
	cl.shutdown()
	if got := sawReaders.Load(); got != 1 {
		t.Fatalf("when the other worker's in-flight fetch returned, %d readers were registered, want the source's 1", got)
	}
	if n := e.readers(); n != 0 {
		t.Fatalf("%d readers after shutdown, want 0", n)
	}
}

// The reader outlives every in-flight fetch under Halt too: the t=2 part's
// blob is gone and it is fetched on the worker that does not list, while
// the t=1 part's fetch hangs on the listing worker. The Halt cancels that
// fetch and expires the reader only once it has returned.
func TestHaltExpiresReaderAfterOtherWorkersFetch(t *testing.T) {
	e, blob, gated := gatedEnv(t)
	failing := e.partKeysAt(2)[0]
	blob.gate(failing)
	e.deleteBlobsAt(2)
	const workers = 2
	var readersAtReturn atomic.Int64
	readersAtReturn.Store(-1)
	blob.mu.Lock()
	blob.afterGated = func(key string, _ error) {
		if key == gated {
			readersAtReturn.Store(int64(e.readers()))
		}
	}
	blob.mu.Unlock()
	asOf := frontier.From[frontier.Time](0)
	result := make(chan error, 1)
	go func() {
		result <- dataflow.Execute(dataflow.Config{Workers: workers}, func(w *dataflow.Worker) {
			dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
				parts, _ := Source(s, "test_source", e.clientFn(), testShard, stringOpts(Options[string, string]{
					AsOf: &asOf, DescTransformer: gatedAway(failing, workers),
				}))
				collect(s, parts, dataflow.NewProbeHandle[frontier.Time]())
			})
		})
	}()
	started := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for !started[gated] || !started[failing] {
		select {
		case k := <-blob.started:
			started[k] = true
		case <-deadline:
			t.Fatalf("gated fetches started: %v", started)
		}
	}
	blob.release(failing)
	var err error
	select {
	case err = <-result:
	case <-deadline:
		t.Fatal("Execute did not return after the halt")
	}
	var pe *dataflow.PanicError
	if !errors.As(err, &pe) || !errors.Is(pe.Value.(error), persist.ErrBlobMissing) {
		t.Fatalf("Execute returned %v, want the missing blob's panic", err)
	}
	if got := readersAtReturn.Load(); got != 1 {
		t.Fatalf("when the hanging fetch returned, %d readers were registered, want the source's 1", got)
	}
	if n := e.readers(); n != 0 {
		t.Fatalf("%d readers after the halt, want 0", n)
	}
}

// The reader outlives a fetch at the largest time too: a part emitted at
// MaxUint64 (a batch from there to the empty frontier) is still being
// fetched, so the completed-fetches frontier holds there, the reader stays
// registered and the part's lease held. (A feedback edge that advanced
// times overflowed there and emptied the descs operator's input frontier,
// which expired the reader under the fetch.)
func TestReaderOutlivesFetchAtLargestTime(t *testing.T) {
	blob := newSlowBlob(mem.NewBlob(), 4, 0)
	e := newEnvWithBlob(t, blob)
	e.appendAt(0, math.MaxUint64, row("a", 0, 1))
	last := []persist.Update{{Key: []byte("z"), Val: []byte("v"), Time: math.MaxUint64, Diff: 1}}
	if err := e.writer.CompareAndAppend(context.Background(), last, frontier.From[frontier.Time](math.MaxUint64), frontier.Antichain[frontier.Time]{}); err != nil {
		t.Fatal(err)
	}
	gated := e.partKeysAt(math.MaxUint64)[0]
	blob.gate(gated)
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf})
	started := false
	r.stepUntil("the fetch at MaxUint64 to start", func() bool {
		select {
		case <-blob.started:
			started = true
		default:
		}
		return started
	})
	// Everything but the fetch is done: the listen has sent its last
	// event (or was stopped) and the worker has nothing left to run.
	l := &r.tokens.inst.listen
	r.stepUntil("the listen to finish and the worker to idle", func() bool {
		return (l.final.Load() || l.stopped.Load()) && r.w.Idle()
	})
	if n := e.readers(); n != 1 {
		t.Fatalf("%d readers while the fetch at MaxUint64 runs, want the source's 1", n)
	}
	if f := r.frontier(); !f.Equal(frontier.From[frontier.Time](math.MaxUint64)) {
		t.Fatalf("frontier %v while the fetch at MaxUint64 runs", f)
	}
	blob.release(gated)
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	if got := consolidated(r.out.rows); len(got) != 2 {
		t.Fatalf("rows %v", got)
	}
}

// Only the chosen worker holds capabilities in the descs operator; the
// others drop theirs at once and only drain the feedback input. Checked
// while the source follows (the chosen worker then holds its descs
// capability and keepalive), for 2 and 3 workers.
func TestOnlyChosenWorkerHoldsDescsCapabilities(t *testing.T) {
	for _, workers := range []int{2, 3} {
		e := newEnv(t)
		e.appendAt(0, 1, row("a", 0, 1))
		chosen := ChosenWorker("test_source", workers)
		cl := runCluster(t, e, workers, 7, Options[string, string]{AsOf: ptr(frontier.From[frontier.Time](0))})
		cl.tickUntil("every worker's frontier past 0", func() bool {
			for _, p := range cl.probes {
				if p.Frontier().LessEqual(0) {
					return false
				}
			}
			return true
		})
		for w, worker := range cl.c.Workers {
			held := 0
			for _, c := range worker.LiveCapabilities() {
				if strings.HasPrefix(c.Operator, "shard_source_descs(") {
					held++
				}
			}
			switch {
			case w == chosen && held != 2:
				t.Fatalf("%d workers: the chosen worker %d holds %d descs capabilities, want 2 (output, keepalive)", workers, w, held)
			case w != chosen && held != 0:
				t.Fatalf("%d workers: worker %d, not chosen, holds %d descs capabilities", workers, w, held)
			}
		}
	}
}
