package shardsource

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

// slowBlob wraps a Blob, delaying each Get by a latency drawn per call (so
// concurrent fetches complete out of order) and optionally blocking the Get
// of chosen keys until they are released.
type slowBlob struct {
	location.Blob
	mu      sync.Mutex
	rng     *rand.Rand
	maxWait time.Duration
	gates   map[string]chan struct{}
	// gated records the keys whose one gated Get has begun: a gate holds
	// back only the first Get of its key (the source's fetch), not a later
	// reader such as compaction.
	gated map[string]bool
	// started is signalled (non-blocking) when a gated Get begins.
	started chan string
	// afterGated runs when a gated Get returns (cancelled or released).
	afterGated func(key string, err error)
}

func newSlowBlob(inner location.Blob, seed uint64, maxWait time.Duration) *slowBlob {
	return &slowBlob{Blob: inner, rng: rand.New(rand.NewPCG(seed, seed)), maxWait: maxWait,
		gates: map[string]chan struct{}{}, gated: map[string]bool{}, started: make(chan string, 64)}
}

func (b *slowBlob) gate(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gates[key] = make(chan struct{})
}

func (b *slowBlob) release(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.gates[key])
}

func (b *slowBlob) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b.mu.Lock()
	var wait time.Duration
	if b.maxWait > 0 {
		wait = time.Duration(b.rng.Int64N(int64(b.maxWait)))
	}
	g := b.gates[key]
	if b.gated[key] {
		g = nil
	} else if g != nil {
		b.gated[key] = true
	}
	b.mu.Unlock()
	if g != nil {
		select {
		case b.started <- key:
		default:
		}
		var err error
		select {
		case <-g:
		case <-ctx.Done():
			err = ctx.Err()
		}
		b.mu.Lock()
		after := b.afterGated
		b.mu.Unlock()
		if after != nil {
			after(key, err)
		}
		if err != nil {
			return nil, false, location.Determinate("blob get", err)
		}
	}
	if wait > 0 {
		// Simulated latency, not synchronization.
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, false, location.Determinate("blob get", ctx.Err())
		}
	}
	return b.Blob.Get(ctx, key)
}
