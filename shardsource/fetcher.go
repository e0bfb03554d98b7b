package shardsource

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
)

// fetchRequest is one part to fetch, tagged with the time of the capability
// the fetch operator holds for it. The time travels to the goroutine and back
// so that a result finds its capability whatever order results come back in.
type fetchRequest[T, P any] struct {
	time T
	part P
}

// fetchResult is the outcome of one fetchRequest, at the request's time.
type fetchResult[T, R any] struct {
	time  T
	value R
	err   error
}

// fetcher owns the fetch operator's I/O: a pool of concurrency goroutines
// that take requests in submission order, fetch them at once, and deliver
// results in completion order over a bounded channel, firing activate after
// each delivery so the operator's worker wakes.
//
// Memory is bounded: a goroutine holds at most one fetched part and blocks
// delivering it while the channel is full, so no more than
// cap(results)+concurrency results exist at any moment. Requests (part
// descriptions, small) queue without bound, so submitting never blocks the
// operator.
//
// stop cancels every fetch in progress and waits for every goroutine to
// return: once it returns the fetcher touches nothing (no part, no reader),
// which is what lets the operator drop its capabilities and so let the
// reader be expired.
type fetcher[T, P, R any] struct {
	fetch    func(ctx context.Context, part P) (R, error)
	activate func()
	results  chan fetchResult[T, R]
	cancel   context.CancelFunc
	group    *errgroup.Group
	stopOnce sync.Once

	mu struct {
		sync.Mutex
		cond   sync.Cond
		queue  []fetchRequest[T, P]
		closed bool
		// The lifecycle of a request after it leaves the queue: fetching
		// (inside fetch), then delivering (sending its result, counted
		// until activate has returned). blocked counts the deliverers
		// parked on a full channel; free, the goroutines holding no
		// request (idle in take, or not yet started).
		fetching, delivering, blocked, free int
		// sent counts results put on the channel, received those taken
		// off it: with no send in progress, len(results) == sent-received.
		sent, received int
	}
}

// startFetcher starts concurrency goroutines (at least one) fetching with
// fetch and delivering over a channel of capacity buffer (at least one).
func startFetcher[T, P, R any](concurrency, buffer int, fetch func(context.Context, P) (R, error), activate func()) *fetcher[T, P, R] {
	concurrency, buffer = max(concurrency, 1), max(buffer, 1)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher[T, P, R]{
		fetch:    fetch,
		activate: activate,
		results:  make(chan fetchResult[T, R], buffer),
		cancel:   cancel,
		group:    new(errgroup.Group),
	}
	f.mu.cond.L = &f.mu.Mutex
	f.mu.free = concurrency
	for range concurrency {
		f.group.Go(func() error { f.run(ctx); return nil })
	}
	return f
}

// submit queues a request. It never blocks. Submitting after stop is a
// broken invariant: the operator stops the fetcher only once it will submit
// nothing more.
func (f *fetcher[T, P, R]) submit(t T, part P) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.closed {
		panic("shardsource: fetch submitted after the fetcher stopped")
	}
	f.mu.queue = append(f.mu.queue, fetchRequest[T, P]{time: t, part: part})
	f.mu.cond.Signal()
}

// discardQueued drops the queued requests whose time matches; those being
// fetched are unaffected.
func (f *fetcher[T, P, R]) discardQueued(match func(T) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.mu.queue[:0]
	for _, r := range f.mu.queue {
		if !match(r.time) {
			kept = append(kept, r)
		}
	}
	clear(f.mu.queue[len(kept):])
	f.mu.queue = kept
}

// poll returns a delivered result without blocking.
func (f *fetcher[T, P, R]) poll() (fetchResult[T, R], bool) {
	select {
	case r := <-f.results:
		f.mu.Lock()
		f.mu.received++
		f.mu.Unlock()
		return r, true
	default:
		return fetchResult[T, R]{}, false
	}
}

// stop cancels the fetches in progress, discards queued requests and waits
// for every goroutine to return. It is idempotent.
func (f *fetcher[T, P, R]) stop() {
	f.stopOnce.Do(func() {
		f.mu.Lock()
		f.mu.closed = true
		f.mu.queue = nil
		f.mu.cond.Broadcast()
		f.mu.Unlock()
		f.cancel()
		_ = f.group.Wait() // the goroutines return no error
	})
}

// settled reports whether the goroutines can do nothing more until the
// operator drains the channel or submits: no fetch is running, no delivery
// is on its way, and every queued request waits only for a goroutine that is
// parked on the full channel. It must be called from the goroutine that
// drains results (the worker's), so nothing drains while it looks. Tests use
// it to step a dataflow until it is quiescent instead of sleeping.
func (f *fetcher[T, P, R]) settled() bool {
	f.mu.Lock()
	fetching, delivering, blocked, free, queued := f.mu.fetching, f.mu.delivering, f.mu.blocked, f.mu.free, len(f.mu.queue)
	accounted := f.mu.sent - f.mu.received
	f.mu.Unlock()
	if fetching > 0 || delivering != blocked {
		return false
	}
	if queued > 0 && free > 0 {
		return false
	}
	// More on the channel than accounted for: a send has happened whose
	// activation may not have fired yet.
	n := len(f.results)
	if n != accounted {
		return false
	}
	// A deliverer counted as blocked may have found room since (the
	// operator drained before this call); it is really parked only while
	// the channel is full.
	return blocked == 0 || n == cap(f.results)
}

func (f *fetcher[T, P, R]) run(ctx context.Context) {
	for {
		req, ok := f.take()
		if !ok {
			return
		}
		value, err := f.fetch(ctx, req.part)
		f.mu.Lock()
		f.mu.fetching--
		f.mu.delivering++
		f.mu.Unlock()
		delivered := f.deliver(ctx, fetchResult[T, R]{time: req.time, value: value, err: err})
		if delivered {
			f.activate()
		}
		f.mu.Lock()
		f.mu.delivering--
		f.mu.free++
		f.mu.Unlock()
		if !delivered {
			return
		}
	}
}

// take blocks until a request is queued or the fetcher stops.
func (f *fetcher[T, P, R]) take() (fetchRequest[T, P], bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.mu.queue) == 0 && !f.mu.closed {
		f.mu.cond.Wait()
	}
	if f.mu.closed {
		return fetchRequest[T, P]{}, false
	}
	req := f.mu.queue[0]
	var zero fetchRequest[T, P]
	f.mu.queue[0] = zero // let the part be collected once fetched
	f.mu.queue = f.mu.queue[1:]
	f.mu.fetching++
	f.mu.free--
	return req, true
}

// deliver sends r, parking while the channel is full, and reports false if
// the fetcher stopped first.
func (f *fetcher[T, P, R]) deliver(ctx context.Context, r fetchResult[T, R]) bool {
	select {
	case f.results <- r:
		f.mu.Lock()
		f.mu.sent++
		f.mu.Unlock()
		return true
	default:
	}
	f.mu.Lock()
	f.mu.blocked++
	f.mu.Unlock()
	sent := false
	select {
	case f.results <- r:
		sent = true
	case <-ctx.Done():
	}
	f.mu.Lock()
	f.mu.blocked--
	if sent {
		f.mu.sent++
	}
	f.mu.Unlock()
	return sent
}
