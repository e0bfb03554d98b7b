package shardsource

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
)

// waitFor polls cond until it holds, failing the test at the deadline. It
// yields between polls; it never stands in for synchronization: cond is the
// condition the test needs.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(50 * time.Microsecond)
	}
}

// drainAll polls f until n results have arrived, checking each is the
// fetch of the part its time names.
func drainAll(t *testing.T, f *fetcher[frontier.Time, int, string], n int) {
	t.Helper()
	got := 0
	waitFor(t, "every result", func() bool {
		for {
			r, ok := f.poll()
			if !ok {
				return got == n
			}
			if r.err != nil || r.value != string(rune('a'+int(r.time))) {
				t.Fatalf("result %+v", r)
			}
			got++
		}
	})
}

// gatedFetch is a fetch whose calls block until their part's gate opens, and
// that counts how many run at once.
type gatedFetch struct {
	mu      sync.Mutex
	gates   map[int]chan struct{}
	running atomic.Int64
	peak    atomic.Int64
	started atomic.Int64
	fail    map[int]error
}

func newGatedFetch() *gatedFetch {
	return &gatedFetch{gates: map[int]chan struct{}{}, fail: map[int]error{}}
}

func (g *gatedFetch) gate(part int) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.gates[part]
	if !ok {
		c = make(chan struct{})
		g.gates[part] = c
	}
	return c
}

func (g *gatedFetch) open(part int) { close(g.gate(part)) }

func (g *gatedFetch) fetch(ctx context.Context, part int) (string, error) {
	n := g.running.Add(1)
	defer g.running.Add(-1)
	g.started.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-g.gate(part):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	g.mu.Lock()
	err := g.fail[part]
	g.mu.Unlock()
	if err != nil {
		return "", err
	}
	return string(rune('a' + part)), nil
}

func TestFetcherConcurrencyLimit(t *testing.T) {
	g := newGatedFetch()
	var activations atomic.Int64
	f := startFetcher[frontier.Time, int, string](3, 16, g.fetch, func() { activations.Add(1) })
	defer f.stop()
	for i := range 10 {
		f.submit(frontier.Time(i), i)
	}
	waitFor(t, "three fetches running", func() bool { return g.running.Load() == 3 })
	for i := range 10 {
		g.open(i)
	}
	drainAll(t, f, 10)
	if p := g.peak.Load(); p != 3 {
		t.Fatalf("peak concurrency %d, want 3", p)
	}
	waitFor(t, "settled", f.settled)
	if activations.Load() != 10 {
		t.Fatalf("%d activations for 10 results", activations.Load())
	}
}

// Results come back in completion order, each with its own time.
func TestFetcherCompletionOrder(t *testing.T) {
	g := newGatedFetch()
	f := startFetcher[frontier.Time, int, string](4, 4, g.fetch, func() {})
	defer f.stop()
	f.submit(10, 0)
	f.submit(20, 1)
	f.submit(30, 2)
	waitFor(t, "all running", func() bool { return g.running.Load() == 3 })
	g.fail[1] = errors.New("boom")
	for _, part := range []int{2, 1, 0} {
		g.open(part)
		var r fetchResult[frontier.Time, string]
		waitFor(t, "a result", func() bool { var ok bool; r, ok = f.poll(); return ok })
		want := frontier.Time(10 * (part + 1))
		if r.time != want {
			t.Fatalf("opened part %d, got result at %v, want %v", part, r.time, want)
		}
		if (part == 1) != (r.err != nil) {
			t.Fatalf("part %d: err %v", part, r.err)
		}
	}
}

// With nobody draining, at most buffer+concurrency parts are ever fetched,
// and the fetcher settles with the rest queued.
func TestFetcherBoundedMemory(t *testing.T) {
	const concurrency, buffer, n = 3, 2, 20
	var fetched atomic.Int64
	fetch := func(ctx context.Context, part int) (int, error) { fetched.Add(1); return part, nil }
	f := startFetcher[frontier.Time, int, int](concurrency, buffer, fetch, func() {})
	defer f.stop()
	for i := range n {
		f.submit(frontier.Time(i), i)
	}
	waitFor(t, "settled while undrained", f.settled)
	if got := fetched.Load(); got != concurrency+buffer {
		t.Fatalf("fetched %d parts with nobody draining, want %d", got, concurrency+buffer)
	}
	// Draining lets the rest through, in submission order for a single
	// time-insensitive fetch, and every one exactly once.
	seen := map[int]bool{}
	waitFor(t, "all drained", func() bool {
		for {
			r, ok := f.poll()
			if !ok {
				return len(seen) == n
			}
			if seen[r.value] {
				t.Fatalf("part %d delivered twice", r.value)
			}
			seen[r.value] = true
		}
	})
	waitFor(t, "settled", f.settled)
}

// stop cancels fetches in progress and parked deliveries and returns only
// once every goroutine has (goleak checks none is left).
func TestFetcherStop(t *testing.T) {
	g := newGatedFetch()
	f := startFetcher[frontier.Time, int, string](3, 1, g.fetch, func() {})
	for i := range 5 {
		f.submit(frontier.Time(i), i)
	}
	g.open(0)
	g.open(1)
	waitFor(t, "one delivered, one parked, two fetching", func() bool {
		f.pool.mu.Lock()
		defer f.pool.mu.Unlock()
		return f.st.sent == 1 && f.st.blocked == 1 && f.st.fetching == 2
	})
	f.stop()
	f.stop() // idempotent
	if g.running.Load() != 0 {
		t.Fatal("a fetch still running after stop")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("submit after stop did not panic")
		}
	}()
	f.submit(9, 9)
}

// settled is false while a fetch runs and while a delivered result's
// activation may not have fired.
func TestFetcherSettledWhileFetching(t *testing.T) {
	g := newGatedFetch()
	var activations atomic.Int64
	f := startFetcher[frontier.Time, int, string](1, 4, g.fetch, func() { activations.Add(1) })
	defer f.stop()
	if !f.settled() {
		t.Fatal("an idle fetcher is not settled")
	}
	f.submit(1, 0)
	if f.settled() {
		t.Fatal("settled with a request queued and a goroutine free")
	}
	waitFor(t, "running", func() bool { return g.running.Load() == 1 })
	if f.settled() {
		t.Fatal("settled with a fetch running")
	}
	g.open(0)
	waitFor(t, "settled", f.settled)
	if activations.Load() != 1 {
		t.Fatal("settled before the activation fired")
	}
}

// A fetch the member's stop cancelled is not delivered. The stop of another
// worker's halt cancels first and drains later, and in between this
// worker's operator may poll: it must not find "context canceled" there
// and report it as a failure of its own.
func TestFetcherStopDeliversNoCancelledFetch(t *testing.T) {
	g := newGatedFetch()
	f := startFetcher[frontier.Time, int, string](1, 1, g.fetch, func() {})
	defer f.stop()
	f.submit(0, 0)
	waitFor(t, "the fetch to start", func() bool { return g.started.Load() == 1 })
	f.cancel() // what stop does before it waits for the fetches
	waitFor(t, "the cancelled fetch to end", func() bool {
		f.pool.mu.Lock()
		defer f.pool.mu.Unlock()
		return f.st.fetching == 0 && f.st.delivering == 0
	})
	if r, ok := f.poll(); ok {
		t.Fatalf("polled %+v from a stopped member", r)
	}
}
