package shardsource

import "context"

// The pool's goroutines: each takes the next request of the member with
// the longest queue, fetches it with that member's fetch and delivers the
// result to that member (see fetchPool). A goroutine first prepares the
// value with the member's prepare when it could take no request after its
// fetch, because none is queued or because the members that have some
// hold their share of results (it would wait otherwise), or when the
// member's operator is behind, not having taken the last result delivered
// to it yet: the operator would do that work after the other's, and here
// it is done beside it. (That sped P1's replays up 2-4%, medians of 300
// interleaved rounds in 4 of 5 processes, with P2 unchanged.)

// run is one goroutine of the pool: it fetches and delivers until there are
// more goroutines than the open members want.
func (p *fetchPool[T, P, R]) run() {
	defer func() {
		p.mu.Lock()
		p.running--
		p.drained.Broadcast()
		p.mu.Unlock()
	}()
	for {
		f, req, ok := p.take()
		if !ok {
			return
		}
		value, err := fetchRecovering(f.ctx, f.fetch, req.part)
		// Not for a stopped member: its values are only given back.
		if err == nil && f.prepare != nil && f.ctx.Err() == nil && (f.behind() || !p.takable()) {
			value = f.prepare(value)
		}
		p.mu.Lock()
		f.st.fetching--
		f.st.delivering++
		p.mu.Unlock()
		if f.deliver(fetchResult[T, R]{time: req.time, value: value, err: err}) {
			f.activate()
		}
		p.mu.Lock()
		f.st.delivering--
		if f.st.closed {
			p.drained.Broadcast()
		}
		p.mu.Unlock()
	}
}

// fetchRecovering calls fetch, turning a panic (in a ClientFunc, say) into
// the fetch's error: on a pool goroutine it would take the process down.
func fetchRecovering[P, R any](ctx context.Context, fetch func(context.Context, P) (R, error), p P) (v R, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicked("fetch", r)
		}
	}()
	return fetch(ctx, p)
}

// take blocks until some member has a request queued, and returns the
// first request of the member with the most queued (ties go round the
// members), or reports false if this goroutine is one too many.
func (p *fetchPool[T, P, R]) take() (*fetcher[T, P, R], fetchRequest[T, P], bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.live > p.target {
			p.live--
			p.work.Signal() // pass on a wake-up this goroutine may have taken
			return nil, fetchRequest[T, P]{}, false
		}
		if f := p.longest(); f != nil {
			req := f.st.queue[0]
			f.st.queue[0] = fetchRequest[T, P]{} // let the part be collected once fetched
			f.st.queue = f.st.queue[1:]
			f.st.fetching++
			f.st.held++
			return f, req, true
		}
		p.work.Wait()
	}
}

// behind reports whether the member's operator has a result delivered it
// has not taken yet.
func (f *fetcher[T, P, R]) behind() bool { return len(f.results) > 0 }

// takable reports whether some member has a request queued that a
// goroutine may take now.
func (p *fetchPool[T, P, R]) takable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if len(m.st.queue) > 0 && m.takableLocked() {
			return true
		}
	}
	return false
}

// longest returns the member with the most requests queued that may take
// one more, or nil if none has any. p.mu is held.
func (p *fetchPool[T, P, R]) longest() *fetcher[T, P, R] {
	n := len(p.members)
	best, most := -1, 0
	for i := range n {
		k := (p.next + i) % n
		if q := len(p.members[k].st.queue); q > most && p.members[k].takableLocked() {
			best, most = k, q
		}
	}
	if best < 0 {
		return nil
	}
	p.next = (best + 1) % n
	return p.members[best]
}

// takableLocked reports whether a goroutine may take one more of the
// member's requests: fewer than cap(results)+concurrency of its results
// are unpolled, so no more than concurrency goroutines can ever be parked
// on its full channel. p.mu is held.
func (f *fetcher[T, P, R]) takableLocked() bool {
	return f.st.held < cap(f.results)+f.concurrency
}

// deliver sends r, parking while the channel is full, and reports false if
// the member stopped first: then r is discarded, whether it failed (as the
// stop made it) or not.
func (f *fetcher[T, P, R]) deliver(r fetchResult[T, R]) bool {
	p := f.pool
	if f.ctx.Err() != nil {
		// Stopped: no operator will use r, and a halt on another worker
		// must not reach this one's operator as "context canceled".
		p.mu.Lock()
		f.st.held--
		p.mu.Unlock()
		p.discard(r)
		return false
	}
	select {
	case f.results <- r:
		p.mu.Lock()
		f.st.sent++
		p.mu.Unlock()
		return true
	default:
	}
	p.mu.Lock()
	f.st.blocked++
	p.mu.Unlock()
	sent := false
	select {
	case f.results <- r:
		sent = true
	case <-f.ctx.Done():
	}
	p.mu.Lock()
	f.st.blocked--
	if sent {
		f.st.sent++
	} else {
		f.st.held--
	}
	p.mu.Unlock()
	if !sent {
		p.discard(r)
	}
	return sent
}
