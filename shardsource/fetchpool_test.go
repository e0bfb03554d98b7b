package shardsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// A member with nothing queued lends its goroutines: both members'
// goroutines fetch one member's parts, and the results go to that member
// alone, each with an activation of that member.
func TestFetchPoolLendsGoroutines(t *testing.T) {
	g := newGatedFetch()
	pool := newFetchPool[frontier.Time, int, string](nil)
	var actA, actB atomic.Int64
	a := pool.join(1, 8, g.fetch, nil, func() { actA.Add(1) })
	b := pool.join(1, 8, g.fetch, nil, func() { actB.Add(1) })
	defer b.stop()
	defer a.stop()
	for i := range 4 {
		a.submit(frontier.Time(i), i)
	}
	waitFor(t, "two of a's parts fetched at once", func() bool { return g.running.Load() == 2 })
	for i := range 4 {
		g.open(i)
	}
	drainAll(t, a, 4)
	waitFor(t, "a settled", a.settled)
	if n := actA.Load(); n != 4 {
		t.Fatalf("a activated %d times for 4 results", n)
	}
	if _, ok := b.poll(); ok || actB.Load() != 0 {
		t.Fatal("b received a result or an activation for a's parts")
	}
	if !b.settled() {
		t.Fatal("b, with nothing submitted, is not settled")
	}
}

// The goroutines serve the longest queue first, so members that submitted
// unequal amounts finish together rather than one after the other.
func TestFetchPoolLongestQueueFirst(t *testing.T) {
	g := newGatedFetch()
	pool := newFetchPool[frontier.Time, int, string](nil)
	// b joins first, so a scan that took the first member with work, or
	// went round the members, would pick b next.
	b := pool.join(1, 16, g.fetch, nil, func() {})
	defer b.stop()
	a := pool.join(1, 16, g.fetch, nil, func() {})
	defer a.stop()
	a.submit(0, 0)
	a.submit(1, 1)
	waitFor(t, "both goroutines on a's parts", func() bool { return g.started.Load() == 2 })
	for i := 2; i <= 4; i++ {
		a.submit(frontier.Time(i), i)
	}
	b.submit(10, 10)
	g.open(0)
	waitFor(t, "the next fetch", func() bool { return g.started.Load() == 3 })
	pool.mu.Lock()
	qa, qb := len(a.st.queue), len(b.st.queue)
	pool.mu.Unlock()
	if qa != 2 || qb != 1 {
		t.Fatalf("queues a %d, b %d after the third take: want a's taken (2, 1)", qa, qb)
	}
	for _, i := range []int{1, 2, 3, 4, 10} {
		g.open(i)
	}
	drainAll(t, a, 5)
	drainAll(t, b, 1)
}

// Stopping one member waits for its own fetches, whichever goroutine runs
// them, and not for the other member's; the other keeps its goroutines and
// gets its results; the last stop leaves no goroutine (goleak checks).
func TestFetchPoolStopOneMember(t *testing.T) {
	g := newGatedFetch()
	pool := newFetchPool[frontier.Time, int, string](nil)
	a := pool.join(1, 1, g.fetch, nil, func() {})
	b := pool.join(1, 1, g.fetch, nil, func() {})
	// Both goroutines end up fetching: one a's part 0, one b's part 1.
	a.submit(0, 0)
	b.submit(1, 1)
	b.submit(2, 2)
	waitFor(t, "both fetching", func() bool { return g.running.Load() == 2 })
	a.stop() // cancels part 0; must not wait for b's part 1
	pool.mu.Lock()
	inflight := a.st.fetching + a.st.delivering
	pool.mu.Unlock()
	if inflight != 0 {
		t.Fatalf("a stopped with %d of its fetches in flight", inflight)
	}
	g.open(1)
	g.open(2)
	drainAll(t, b, 2)
	waitFor(t, "b settled", b.settled)
	b.stop()
	pool.mu.Lock()
	running := pool.running
	pool.mu.Unlock()
	if running != 0 || g.running.Load() != 0 {
		t.Fatalf("%d goroutines and %d fetches left after the last stop", running, g.running.Load())
	}
}

// A goroutine parked delivering to a member whose channel is full does not
// keep another member's stop waiting, and its own member's stop frees it.
func TestFetchPoolStopWhileParked(t *testing.T) {
	g := newGatedFetch()
	pool := newFetchPool[frontier.Time, int, string](nil)
	a := pool.join(1, 1, g.fetch, nil, func() {})
	b := pool.join(1, 1, g.fetch, nil, func() {})
	for i := range 3 {
		a.submit(frontier.Time(i), i)
		g.open(i)
	}
	waitParked(t, a)
	b.stop()
	a.stop()
	pool.mu.Lock()
	running := pool.running
	pool.mu.Unlock()
	if running != 0 {
		t.Fatalf("%d goroutines left after the last stop", running)
	}
}

// stop gives back every result the operator will never poll: those on the
// channel and those whose delivery it cut short, and no failed one.
func TestFetchPoolStopReleasesUnreceived(t *testing.T) {
	g := newGatedFetch()
	var mu sync.Mutex
	var fetched, released []string
	pool := newFetchPool[frontier.Time, int, string](func(v string) {
		mu.Lock()
		defer mu.Unlock()
		released = append(released, v)
	})
	fetch := func(ctx context.Context, part int) (string, error) {
		v, err := g.fetch(ctx, part)
		if err == nil {
			mu.Lock()
			fetched = append(fetched, v)
			mu.Unlock()
		}
		return v, err
	}
	a := pool.join(2, 1, fetch, nil, func() {})
	g.fail[3] = errors.New("blob gone")
	for i := range 4 {
		a.submit(frontier.Time(i), i)
		g.open(i)
	}
	// The channel holds one result, the other goroutine is parked with a
	// second, and the first goroutine is parked with a third or fetching.
	waitParked(t, a)
	r, ok := a.poll()
	if !ok {
		t.Fatal("no result on the channel")
	}
	waitFor(t, "the channel refilled", func() bool { return len(a.results) == 1 })
	a.stop()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(fetched)
	slices.Sort(released)
	want := slices.DeleteFunc(slices.Clone(fetched), func(v string) bool { return v == r.value })
	if !slices.Equal(released, want) || len(released) < 1 {
		t.Fatalf("released %q after stop; fetched %q, of which %q was polled", released, fetched, r.value)
	}
}

// In a dataflow, the workers of a process pool their fetch goroutines: with
// FetchConcurrency 1 on two workers, and three parts sent to worker 0 and
// one to worker 1, worker 1's goroutine, once its own part is fetched,
// fetches worker 0's parts alongside worker 0's own goroutine. Each part is
// still emitted by the worker it was sent to.
//
// The pool keeps concurrency goroutines per open member only: a fetch
// operator stops its member once it holds nothing and its input frontier is
// empty, and a goroutine then leaves. So Until lies beyond the shard's
// upper, and the descs operator keeps every worker's fetch input frontier
// at 4: worker 1's member stays open, and its goroutine in the pool, however
// late the pool's goroutines run. (With Until at the upper, worker 1 could
// finish, see the frontier empty and stop its member before either
// goroutine took one of worker 0's parts, leaving one goroutine for three
// parts.) Worker 1's part is not gated: nothing has to wait for it, and
// either goroutine may take worker 0's parts before it.
func TestWorkersShareFetchGoroutines(t *testing.T) {
	blob := newSlowBlob(mem.NewBlob(), 7, 0)
	e := newEnvWithBlob(t, blob)
	var want []Row
	for i := range frontier.Time(4) {
		e.appendAt(i, i+1, row(fmt.Sprintf("k%d", i), i, 1))
		want = append(want, row(fmt.Sprintf("k%d", i), 3, 1)) // advanced to as_of
	}
	ownerOf := map[string]int{}
	for i := range frontier.Time(4) {
		for _, k := range e.partKeysAt(i) {
			ownerOf[k] = 0
			if i == 3 {
				ownerOf[k] = 1
				continue
			}
			blob.gate(k)
		}
	}
	asOf := frontier.From[frontier.Time](3)
	cl := runCluster(t, e, 2, 7, Options[string, string]{
		AsOf: &asOf, Until: frontier.From[frontier.Time](5), FetchConcurrency: 1,
		DescTransformer: mapDescs(func(d Desc, _ int) Desc { d.Worker = ownerOf[d.Part.Key]; return d }),
	})
	started := map[string]bool{}
	cl.tickUntil("two of worker 0's parts fetched at once", func() bool {
		for drained := false; !drained; {
			select {
			case k := <-blob.started:
				started[k] = true
			default:
				drained = true
			}
		}
		return len(started) >= 2 // only worker 0's are gated, and still closed: both in flight
	})
	for k, owner := range ownerOf {
		if owner == 0 {
			blob.release(k)
		}
	}
	cl.tickUntil("every worker's frontier past 3", func() bool { return !cl.probes[0].LessEqual(3) && !cl.probes[1].LessEqual(3) })
	if got, w := consolidated(cl.rows()), consolidated(want); !equalStrings(got, w) {
		t.Fatalf("got %v\nwant %v", got, w)
	}
	for w, o := range cl.outs {
		for _, r := range o.rows {
			if wantW := map[bool]int{true: 1, false: 0}[string(r.Key) == "k3"]; w != wantW {
				t.Fatalf("row %s emitted by worker %d, want %d", r.Key, w, wantW)
			}
		}
	}
}

// A member whose operator does not poll (its worker is busy, or holds after
// a local press of the shutdown button) keeps at most its own goroutines
// parked on its full channel: another member's fetch still runs, as it
// would on goroutines of its own.
func TestFetchPoolUnpolledMemberKeepsOnlyItsShare(t *testing.T) {
	g := newGatedFetch()
	pool := newFetchPool[frontier.Time, int, string](nil)
	a := pool.join(1, 1, g.fetch, nil, func() {})
	b := pool.join(1, 1, g.fetch, nil, func() {})
	defer b.stop()
	defer a.stop()
	for i := range 4 {
		a.submit(frontier.Time(i), i)
		g.open(i)
	}
	waitFor(t, "a's channel full and a delivery parked", func() bool {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return len(a.results) == 1 && a.st.blocked >= 1 && a.st.fetching == 0
	})
	b.submit(10, 10)
	g.open(10)
	drainAll(t, b, 1)
}

// waitParked waits until f has one result on its channel (of capacity one)
// and a goroutine parked delivering another.
func waitParked[T, P, R any](t *testing.T, f *fetcher[T, P, R]) {
	t.Helper()
	waitFor(t, "a result on the channel and one parked", func() bool {
		f.pool.mu.Lock()
		defer f.pool.mu.Unlock()
		return f.st.sent == 1 && f.st.blocked >= 1
	})
}

// A goroutine prepares what it fetched when it could take no request next
// (none is queued, or the member already holds its share of unpolled
// results), or when the member's operator has not taken the last result
// delivered to it. Otherwise it delivers the value as fetched and reads
// on. A failed fetch is never prepared.
func TestFetchPoolPreparesWhenIdle(t *testing.T) {
	// delivered waits until n results are on f's channel, unpolled.
	delivered := func(t *testing.T, f *fetcher[frontier.Time, int, string], n int) {
		waitFor(t, fmt.Sprintf("%d results delivered", n), func() bool { return len(f.results) == n })
	}
	t.Run("nothing queued", func(t *testing.T) {
		g := newGatedFetch()
		f, _ := startPreparing(t, g, 4, 1)
		g.open(0)
		pollValue(t, f, "a+")
	})
	t.Run("operator behind", func(t *testing.T) {
		g := newGatedFetch()
		f, _ := startPreparing(t, g, 4, 4)
		g.open(0)
		delivered(t, f, 1) // part 1 was queued, the channel empty: as fetched
		g.open(1)
		delivered(t, f, 2) // "a" not taken yet: prepared
		pollValue(t, f, "a")
		pollValue(t, f, "b+")
		g.open(2) // part 3 queued, the channel empty again: as fetched
		pollValue(t, f, "c")
		g.open(3) // nothing queued
		pollValue(t, f, "d+")
	})
	t.Run("member holds its share", func(t *testing.T) {
		g := newGatedFetch()
		f, _ := startPreparing(t, g, 1, 3)
		g.open(0)
		waitFor(t, "part 1 taken", func() bool { return g.started.Load() == 2 })
		// Part 0 waits on the channel, part 1 is being fetched: the
		// member holds cap(results)+concurrency, so part 2, though
		// queued, cannot be taken when part 1 is back.
		g.open(1)
		waitFor(t, "part 1 parked on the full channel", func() bool {
			f.pool.mu.Lock()
			defer f.pool.mu.Unlock()
			return f.st.blocked == 1
		})
		pollValue(t, f, "a")
		pollValue(t, f, "b+")
		g.open(2)
		pollValue(t, f, "c+")
	})
	t.Run("failed fetch", func(t *testing.T) {
		g := newGatedFetch()
		g.fail[0] = errors.New("no such part")
		f, prepared := startPreparing(t, g, 1, 1)
		g.open(0)
		if r := pollNext(t, f); r.err == nil {
			t.Fatalf("polled %q from a failed fetch", r.value)
		}
		if n := prepared.Load(); n != 0 {
			t.Fatalf("prepare ran %d times on a failed fetch", n)
		}
	})
}

// startPreparing starts the only member of a pool, fetching with g on one
// goroutine into a channel of capacity buffer, with a prepare that appends
// "+" and counts its calls, and submits parts 0 to parts-1. The member
// stops with the test.
func startPreparing(t *testing.T, g *gatedFetch, buffer, parts int) (*fetcher[frontier.Time, int, string], *atomic.Int64) {
	prepared := new(atomic.Int64)
	prepare := func(s string) string {
		prepared.Add(1)
		return s + "+"
	}
	f := newFetchPool[frontier.Time, int, string](nil).join(1, buffer, g.fetch, prepare, func() {})
	t.Cleanup(f.stop)
	for i := range parts {
		f.submit(frontier.Time(i), i)
	}
	return f, prepared
}

// pollNext waits for f's next result.
func pollNext(t *testing.T, f *fetcher[frontier.Time, int, string]) (r fetchResult[frontier.Time, string]) {
	t.Helper()
	waitFor(t, "a result", func() bool {
		var ok bool
		r, ok = f.poll()
		return ok
	})
	return r
}

// pollValue waits for f's next result and checks it is want.
func pollValue(t *testing.T, f *fetcher[frontier.Time, int, string], want string) {
	t.Helper()
	if r := pollNext(t, f); r.err != nil || r.value != want {
		t.Fatalf("polled %q (err %v), want %q", r.value, r.err, want)
	}
}

// A stopped member's values are only given back: a fetch that ends after
// the stop, its cancel ignored, is released without being prepared first,
// work the stop would otherwise wait for.
func TestFetchPoolStoppedMemberPreparesNothing(t *testing.T) {
	entered, finish := make(chan struct{}), make(chan struct{})
	fetch := func(context.Context, int) (string, error) {
		close(entered)
		<-finish // deaf to its cancel
		return "a", nil
	}
	var prepared, released atomic.Int64
	pool := newFetchPool[frontier.Time, int, string](func(string) { released.Add(1) })
	f := pool.join(1, 1, fetch, func(s string) string { prepared.Add(1); return s + "+" }, func() {})
	f.submit(0, 0)
	<-entered
	stopped := make(chan struct{})
	go func() {
		f.stop()
		close(stopped)
	}()
	<-f.ctx.Done() // the stop has cancelled the fetch
	close(finish)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop never returned")
	}
	if n := prepared.Load(); n != 0 {
		t.Errorf("a stopped member's value was prepared %d times", n)
	}
	if n := released.Load(); n != 1 {
		t.Errorf("a stopped member's value was released %d times, want once", n)
	}
}
