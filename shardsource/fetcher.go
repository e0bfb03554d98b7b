package shardsource

import (
	"context"
	"slices"
	"sync"
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

// fetchPool runs the fetches of one source's fetch operators on the workers
// of this process. Each operator is a member, a fetcher, with its own queue
// of requests, its own bounded results channel and its own activation. The
// pool's goroutines, concurrency of them per open member, serve all the
// members: a goroutine takes the next request of the member with the
// longest queue, fetches it with that member's fetch, and delivers the
// result to that member. So a worker whose parts are fetched keeps its
// results, capabilities and leases, while a worker with nothing left to
// fetch lends its goroutines to one that has: the workers of a process
// finish their fetches together instead of one waiting on another's tail.
//
// A member's guarantees are those of a fetcher of its own (see fetcher):
// bounded results, stop waiting for its fetches, and its requests fetched
// whatever the other members do. For the last, a goroutine takes a request
// of a member only while the member holds fewer than cap(results) plus its
// concurrency results not yet polled (fetching, delivering or on its
// channel): a member whose operator does not poll (its worker is busy, or
// holds after a local press of the shutdown button) can keep no more than
// its own goroutines parked on its full channel, and the others' goroutines
// stay free for the others. The pool's goroutines return once every member
// has stopped.
type fetchPool[T, P, R any] struct {
	// release gives back a fetched value no operator will receive: one
	// whose member stopped before it was delivered or polled. Nil means
	// values hold nothing worth giving back.
	release func(R)

	mu sync.Mutex
	// work is signalled when a request is queued, and broadcast when a
	// member stops (goroutines beyond the target then return); drained is
	// broadcast when a stopped member's fetch ends or a goroutine returns.
	work, drained sync.Cond
	members       []*fetcher[T, P, R]
	next          int // where the next scan for the longest queue starts
	target        int // goroutines wanted: open members' concurrency, summed
	live          int // goroutines not yet decided to return
	running       int // goroutines not yet returned
	// halted is set by halt: every member is stopped, and one that joins
	// later is born stopped.
	halted bool
}

func newFetchPool[T, P, R any](release func(R)) *fetchPool[T, P, R] {
	p := &fetchPool[T, P, R]{release: release}
	p.work.L, p.drained.L = &p.mu, &p.mu
	return p
}

// fetcher is one fetch operator's member of a fetchPool: requests go in
// with submit, in submission order per member, and results come out of poll
// in completion order, over a channel of capacity buffer; activate fires
// after each delivery so the operator's worker wakes.
//
// Memory is bounded: a goroutine holds at most one fetched part and blocks
// delivering it while the member's channel is full, and a member holds no
// more than cap(results)+concurrency results not yet polled (see
// fetchPool). Requests (part descriptions, small) queue without bound, so
// submitting never blocks the operator.
//
// stop cancels every fetch of the member's requests in progress and waits
// for them to end: once it returns the pool touches nothing of the member
// (no part, no reader), which is what lets the operator drop its
// capabilities and so let the reader be expired. The results nobody will
// poll, those still on the channel and those whose delivery stop cut
// short, are given back with the pool's release.
type fetcher[T, P, R any] struct {
	pool  *fetchPool[T, P, R]
	fetch func(ctx context.Context, part P) (R, error)
	// prepare, if not nil, is work on a fetched value that a goroutine
	// does itself when it could take no request next or the member's
	// operator is behind (see run); the operator does what is left when
	// it polls.
	prepare     func(R) R
	activate    func()
	results     chan fetchResult[T, R]
	ctx         context.Context // the member's fetches'; canceled by stop
	cancel      context.CancelFunc
	concurrency int
	stopOnce    sync.Once

	// st is guarded by pool.mu.
	st struct {
		queue  []fetchRequest[T, P]
		closed bool
		// The lifecycle of a request after it leaves the queue: fetching
		// (inside fetch), then delivering (sending its result, counted
		// until activate has returned). blocked counts the deliverers
		// parked on a full channel.
		fetching, delivering, blocked int
		// sent counts results put on the channel, received those taken
		// off it: with no send in progress, len(results) == sent-received.
		sent, received int
		// held counts the requests taken from the queue whose results
		// the operator has not polled (nor stop discarded); a goroutine
		// takes a request only while held < cap(results)+concurrency.
		held int
	}
}

// startFetcher returns the only member of a new pool.
func startFetcher[T, P, R any](concurrency, buffer int, fetch func(context.Context, P) (R, error), activate func()) *fetcher[T, P, R] {
	return newFetchPool[T, P, R](nil).join(concurrency, buffer, fetch, nil, activate)
}

// join adds a member fetching with fetch, and preparing with prepare (which
// may be nil), concurrency goroutines (at least one) to the pool and a
// channel of capacity buffer (at least one).
func (p *fetchPool[T, P, R]) join(concurrency, buffer int, fetch func(context.Context, P) (R, error), prepare func(R) R, activate func()) *fetcher[T, P, R] {
	concurrency, buffer = max(concurrency, 1), max(buffer, 1)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher[T, P, R]{
		pool:        p,
		fetch:       fetch,
		prepare:     prepare,
		activate:    activate,
		results:     make(chan fetchResult[T, R], buffer),
		ctx:         ctx,
		cancel:      cancel,
		concurrency: concurrency,
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.halted {
		f.st.closed = true
		f.stopOnce.Do(cancel)
		return f
	}
	p.members = append(p.members, f)
	p.target += concurrency
	for p.live < p.target {
		p.live++
		p.running++
		go p.run()
	}
	return f
}

// submit queues a request. It never blocks. Submitting after stop is a
// broken invariant (the operator stops the fetcher only once it will submit
// nothing more), unless the pool was halted: then the request is dropped.
func (f *fetcher[T, P, R]) submit(t T, part P) {
	p := f.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.st.closed {
		if p.halted {
			return // the source is dead on every worker: fetch nothing
		}
		panic("shardsource: fetch submitted after the fetcher stopped")
	}
	f.st.queue = append(f.st.queue, fetchRequest[T, P]{time: t, part: part})
	p.work.Signal()
}

// discardQueued drops the queued requests whose time matches; those being
// fetched are unaffected.
func (f *fetcher[T, P, R]) discardQueued(match func(T) bool) {
	f.pool.mu.Lock()
	defer f.pool.mu.Unlock()
	kept := f.st.queue[:0]
	for _, r := range f.st.queue {
		if !match(r.time) {
			kept = append(kept, r)
		}
	}
	clear(f.st.queue[len(kept):])
	f.st.queue = kept
}

// poll returns a delivered result without blocking.
func (f *fetcher[T, P, R]) poll() (fetchResult[T, R], bool) {
	select {
	case r := <-f.results:
		f.pool.mu.Lock()
		f.st.received++
		f.st.held--
		if len(f.st.queue) > 0 {
			f.pool.work.Signal() // the member may take a request again
		}
		f.pool.mu.Unlock()
		return r, true
	default:
		return fetchResult[T, R]{}, false
	}
}

// stop cancels the member's fetches in progress, discards its queued
// requests and waits for its fetches to end, then releases the results left
// on the channel; the last member to stop also waits for the pool's
// goroutines to return. It is idempotent. The operator polls no more once
// it stops the member itself; when another worker's halt stops it, the
// operator may still poll meanwhile, and each result left on the channel
// goes either to it or to release.
func (f *fetcher[T, P, R]) stop() {
	f.stopOnce.Do(func() {
		p := f.pool
		p.mu.Lock()
		f.st.closed = true
		f.st.queue = nil
		p.target -= f.concurrency
		p.work.Broadcast()
		p.mu.Unlock()
		f.cancel()
		p.mu.Lock()
		for f.st.fetching+f.st.delivering > 0 || (p.target == 0 && p.running > 0) {
			p.drained.Wait()
		}
		p.mu.Unlock()
		// Nothing sends any more: what is on the channel is what is left.
		for {
			r, ok := f.poll()
			if !ok {
				return
			}
			p.discard(r)
		}
	})
}

// halt stops every member, waiting for their fetches and the pool's
// goroutines to end, and every member that joins later is born stopped.
// Any goroutine may call it: a Halt on one worker stops the fetches of
// every worker of the process, which may never run their operators again.
func (p *fetchPool[T, P, R]) halt() {
	p.mu.Lock()
	p.halted = true
	members := slices.Clone(p.members)
	p.mu.Unlock()
	for _, f := range members {
		f.stop()
	}
}

// discard gives back the value of a result no operator will receive.
func (p *fetchPool[T, P, R]) discard(r fetchResult[T, R]) {
	if r.err == nil && p.release != nil {
		p.release(r.value)
	}
}

// settled reports whether the goroutines can do nothing more for this
// member until an operator drains a channel or submits: none of its
// requests is being fetched, no delivery to it is on its way, and every
// queued request waits only for a goroutine parked on a full channel or
// for the member's operator to poll (it holds its share, takableLocked). It
// must be called from the goroutine that drains the member's results (the
// worker's), so nothing drains while it looks. Tests use it to step a
// dataflow until it is quiescent instead of sleeping.
func (f *fetcher[T, P, R]) settled() bool {
	p := f.pool
	p.mu.Lock()
	fetching, delivering, blocked, queued := f.st.fetching, f.st.delivering, f.st.blocked, len(f.st.queue)
	takable := f.takableLocked()
	free := p.live // goroutines holding no request
	for _, m := range p.members {
		free -= m.st.fetching + m.st.delivering
	}
	accounted := f.st.sent - f.st.received
	p.mu.Unlock()
	if fetching > 0 || delivering != blocked {
		return false
	}
	if queued > 0 && free > 0 && takable {
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
