package shardsource

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
)

type fakePart struct {
	id    int
	size  uint64
	lease *lease.Lease
}

type fakeBatch struct {
	parts []fakePart
	upper frontier.Antichain[frontier.Time]
	err   error
}

// fakeReader serves a snapshot and then batches the test feeds it.
type fakeReader struct {
	since       frontier.Antichain[frontier.Time]
	snapshot    []fakePart
	snapshotErr error
	snapshotGo  chan struct{} // closed to let Snapshot return; nil: at once
	batches     chan fakeBatch
	expired     atomic.Bool
	listening   atomic.Bool
}

func (r *fakeReader) Since() frontier.Antichain[frontier.Time] { return r.since }

func (r *fakeReader) Snapshot(ctx context.Context, asOf frontier.Time) ([]fakePart, error) {
	if r.snapshotGo != nil {
		select {
		case <-r.snapshotGo:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.snapshot, r.snapshotErr
}

func (r *fakeReader) Listen(ctx context.Context, asOf frontier.Time) (shardListener[fakePart], error) {
	r.listening.Store(true)
	return fakeListener{r}, nil
}

func (r *fakeReader) Expire(ctx context.Context) error {
	r.expired.Store(true)
	return nil
}

type fakeListener struct{ r *fakeReader }

func (l fakeListener) Next(ctx context.Context) ([]fakePart, frontier.Antichain[frontier.Time], error) {
	select {
	case b := <-l.r.batches:
		return b.parts, b.upper, b.err
	case <-ctx.Done():
		return nil, frontier.Antichain[frontier.Time]{}, ctx.Err()
	}
}

func (l fakeListener) Close() {}

func part(id int, size uint64) fakePart { return fakePart{id: id, size: size, lease: lease.New(1)} }

// listenHarness runs runListen against a fake reader.
type listenHarness struct {
	t      *testing.T
	reader *fakeReader
	events chan listenEvent[fakePart]
	cancel context.CancelFunc
	done   chan struct{}
}

func startListen(t *testing.T, r *fakeReader, mod func(*listenConfig[fakePart])) *listenHarness {
	cfg := listenConfig[fakePart]{
		open:          func(context.Context) (shardReader[fakePart], error) { return r, nil },
		snapshot:      true,
		workers:       2,
		size:          func(p fakePart) uint64 { return p.size },
		leaseOf:       func(p fakePart) *lease.Lease { return p.lease },
		expireTimeout: time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &listenHarness{t: t, reader: r, events: make(chan listenEvent[fakePart], 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		runListen(ctx, cfg, h.events, func() {})
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *listenHarness) next() listenEvent[fakePart] {
	h.t.Helper()
	select {
	case ev := <-h.events:
		return ev
	case <-time.After(10 * time.Second):
		h.t.Fatal("timed out waiting for a listen event")
		return nil
	}
}

func (h *listenHarness) stop() {
	h.cancel()
	<-h.done
}

func at(t frontier.Time) frontier.Antichain[frontier.Time] { return frontier.From(t) }

func TestListenAsOfBeforeSnapshot(t *testing.T) {
	r := &fakeReader{since: at(3), snapshotGo: make(chan struct{}), batches: make(chan fakeBatch, 4),
		snapshot: []fakePart{part(1, 10), part(2, 20)}}
	h := startListen(t, r, nil)
	// The snapshot is blocked, yet as_of (the since: no explicit as_of)
	// arrives.
	if ev, ok := h.next().(evAsOf); !ok || !ev.asOf.Equal(at(3)) {
		t.Fatalf("first event %#v, want AsOf [3]", ev)
	}
	close(r.snapshotGo)
	// The snapshot's parts wait for the first listen batch and go out
	// together with it, at as_of.
	r.batches <- fakeBatch{parts: []fakePart{part(3, 5)}, upper: at(7)}
	p, ok := h.next().(evParts[fakePart])
	if !ok || p.ts != 3 || len(p.parts) != 3 {
		t.Fatalf("got %#v, want 3 parts at 3", p)
	}
	if pr, ok := h.next().(evProgress); !ok || !pr.frontier.Equal(at(7)) {
		t.Fatalf("got %#v, want Progress [7]", pr)
	}
	// A batch with no parts is progress alone.
	r.batches <- fakeBatch{upper: at(9)}
	if pr, ok := h.next().(evProgress); !ok || !pr.frontier.Equal(at(9)) {
		t.Fatalf("got %#v, want Progress [9]", pr)
	}
	r.batches <- fakeBatch{parts: []fakePart{part(4, 1)}, upper: at(12)}
	if p, ok := h.next().(evParts[fakePart]); !ok || p.ts != 9 || len(p.parts) != 1 || p.parts[0].part.id != 4 {
		t.Fatalf("got %#v, want part 4 at 9", p)
	}
	h.next()
	if r.expired.Load() {
		t.Fatal("reader expired while the source still runs")
	}
	h.stop()
	if !r.expired.Load() {
		t.Fatal("reader not expired after stop")
	}
}

func TestListenUntil(t *testing.T) {
	r := &fakeReader{since: at(0), batches: make(chan fakeBatch, 4)}
	h := startListen(t, r, func(c *listenConfig[fakePart]) { c.until = at(5); c.snapshot = false })
	h.next() // AsOf
	r.batches <- fakeBatch{parts: []fakePart{part(1, 1)}, upper: at(3)}
	h.next()
	h.next()
	// The upper passes until: that batch's parts still go out (they may
	// hold rows below until), then the empty frontier.
	r.batches <- fakeBatch{parts: []fakePart{part(2, 1)}, upper: at(6)}
	if p, ok := h.next().(evParts[fakePart]); !ok || p.ts != 3 {
		t.Fatalf("got %#v, want parts at 3", p)
	}
	if pr, ok := h.next().(evProgress); !ok || !pr.frontier.IsEmpty() {
		t.Fatalf("got %#v, want the empty frontier", pr)
	}
}

func TestListenAsOfBeyondUntilOrEmpty(t *testing.T) {
	for name, mod := range map[string]func(*listenConfig[fakePart]){
		"until": func(c *listenConfig[fakePart]) { c.until = at(5); a := at(5); c.asOf = &a },
		"empty": func(c *listenConfig[fakePart]) { a := frontier.Antichain[frontier.Time]{}; c.asOf = &a },
	} {
		t.Run(name, func(t *testing.T) {
			r := &fakeReader{since: at(0), batches: make(chan fakeBatch)}
			h := startListen(t, r, mod)
			h.next()
			if pr, ok := h.next().(evProgress); !ok || !pr.frontier.IsEmpty() {
				t.Fatalf("got %#v, want the empty frontier", pr)
			}
			if r.listening.Load() {
				t.Fatal("listened although nothing can be wanted")
			}
		})
	}
}

// An error is the last event; the reader is kept (it may still hold parts
// being fetched) until the goroutine is stopped.
func TestListenErrorIsLast(t *testing.T) {
	boom := errors.New("since advanced")
	r := &fakeReader{since: at(3), snapshotErr: boom, batches: make(chan fakeBatch)}
	h := startListen(t, r, func(c *listenConfig[fakePart]) { a := at(1); c.asOf = &a })
	if ev, ok := h.next().(evAsOf); !ok || !ev.asOf.Equal(at(1)) {
		t.Fatalf("got %#v, want AsOf [1]", ev)
	}
	if ev, ok := h.next().(evError); !ok || !errors.Is(ev.err, boom) {
		t.Fatalf("got %#v, want the error", ev)
	}
	select {
	case ev := <-h.events:
		t.Fatalf("event %#v after the error", ev)
	default:
	}
	if r.expired.Load() {
		t.Fatal("reader expired before stop")
	}
	h.stop()
	if !r.expired.Load() {
		t.Fatal("reader not expired after stop")
	}
}

// Stopping mid-listen releases every lease the goroutine still owns: the
// parts it collected and those in an event it could not deliver.
func TestListenStopReleasesLeases(t *testing.T) {
	for _, progress := range []bool{false, true} {
		snap := []fakePart{part(1, 1), part(2, 1)}
		r := &fakeReader{since: at(0), snapshot: snap, batches: make(chan fakeBatch)}
		h := startListen(t, r, nil)
		// AsOf stays in the channel, so a Parts event cannot be delivered.
		held := part(3, 1)
		upper := at(0) // no progress: the parts stay collected
		if progress {
			upper = at(4) // progress: the Parts event blocks on the channel
		}
		select {
		case r.batches <- fakeBatch{parts: []fakePart{held}, upper: upper}:
		case <-time.After(10 * time.Second):
			// A deadline, not synchronization: the goroutine should be
			// listening, having parked the snapshot's parts.
			t.Fatalf("progress=%v: the listen goroutine never asked for a batch", progress)
		}
		h.stop()
		for len(h.events) > 0 {
			releaseEvent[fakePart](<-h.events) // what the operator does with undrained events
		}
		for _, p := range append(snap, held) {
			if !p.lease.Released() {
				t.Fatalf("progress=%v: lease of part %d not released after stop", progress, p.id)
			}
		}
		if !r.expired.Load() {
			t.Fatal("reader not expired after stop")
		}
	}
}

func TestListenStartSignalAndFilter(t *testing.T) {
	start := make(chan struct{})
	r := &fakeReader{since: at(2), snapshot: []fakePart{part(1, 1), part(2, 1), part(3, 1)}, batches: make(chan fakeBatch, 1)}
	var mu sync.Mutex
	var sawAsOf []frontier.Time
	h := startListen(t, r, func(c *listenConfig[fakePart]) {
		c.startSignal = start
		c.filter = func(p fakePart, inSnapshot bool, asOf frontier.Time) (fakePart, filterDecision) {
			mu.Lock()
			sawAsOf = append(sawAsOf, asOf)
			mu.Unlock()
			switch p.id {
			case 2:
				return p, decideDiscard
			case 3:
				if !inSnapshot {
					t.Error("part 3 came from the snapshot")
				}
				p.size = 99
				return p, decideReplace
			}
			return p, decideKeep
		}
	})
	r.since = at(4) // since moves before the start signal: as_of resolves after it
	select {
	case ev := <-h.events:
		t.Fatalf("event %#v before the start signal", ev)
	default:
	}
	close(start)
	if ev, ok := h.next().(evAsOf); !ok || !ev.asOf.Equal(at(4)) {
		t.Fatalf("got %#v, want AsOf [4] (the since after the start signal)", ev)
	}
	discarded := r.snapshot[1].lease
	r.batches <- fakeBatch{upper: at(5)}
	p := h.next().(evParts[fakePart])
	if len(p.parts) != 2 || p.parts[0].part.id != 1 || p.parts[1].part.size != 99 {
		t.Fatalf("filtered parts %#v", p.parts)
	}
	if !discarded.Released() {
		t.Fatal("a discarded part's lease was not released")
	}
	for _, a := range sawAsOf {
		if a != 4 {
			t.Fatalf("filter saw as_of %v", a)
		}
	}
}
