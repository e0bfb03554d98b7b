package shardsource

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

// A panic in user code the source calls on its own goroutines (a Filter on
// the listen goroutine, a ClientFunc on a fetch goroutine) fails the
// source with an error naming the panic; it used to take the process down,
// where no caller could recover it.
func TestPanicsOnSourceGoroutinesFailTheSource(t *testing.T) {
	for _, c := range []struct {
		name   string
		filter Filter
		client func(e *env) ClientFunc
	}{
		{name: "filter", filter: func(persist.PartDesc, frontier.Antichain[frontier.Time]) FilterResult {
			panic("filter boom")
		}},
		{name: "fetch client", client: func(e *env) ClientFunc {
			var calls atomic.Int64
			return func(context.Context) (*persist.Client, error) {
				if calls.Add(1) > 1 { // the listen's call succeeds, the fetch's panics
					panic("fetch client boom")
				}
				return e.client, nil
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.appendAt(0, 1, row("a", 0, 1))
			var mu sync.Mutex
			var errs []error
			opts := Options[string, string]{Filter: c.filter, FetchConcurrency: 1,
				ErrorHandler: Signal(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() })}
			client := e.clientFn()
			if c.client != nil {
				client = c.client(e)
			}
			r := runSingleClient(t, e, client, opts)
			r.stepUntil("an error", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(errs) > 0
			})
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(errs[0].Error(), "boom") || !strings.Contains(errs[0].Error(), "panic on the") {
				t.Fatalf("error %v, want the panic", errs[0])
			}
		})
	}
}

// A Filter that panics fails the source as any listen error does: with the
// reader still registered for the fetches of the parts listed before it.
// The panic used to be recovered only after the deferred expiry, so a
// fetch still in flight (Signal freezes the source; its fetch operator
// goes on with the earlier times) read with no reader holding its blob.
func TestFilterPanicKeepsReaderForInflightFetch(t *testing.T) {
	var mu sync.Mutex
	var errs []error
	e, blob, r := gatedRunOpts(t, func(*Tokens) {}, Options[string, string]{
		Filter: func(p persist.PartDesc, _ frontier.Antichain[frontier.Time]) FilterResult {
			if p.MinTime == 2 {
				panic("filter boom")
			}
			return Keep()
		},
		ErrorHandler: Signal(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }),
	})
	r.stepUntil("the filter's panic reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(errs) > 0
	})
	if n := e.readers(); n != 1 {
		t.Errorf("%d readers registered while the t=1 fetch is in flight, want 1", n)
	}
	mu.Lock()
	if !strings.Contains(errs[0].Error(), "filter boom") {
		t.Errorf("error %v does not name the panic", errs[0])
	}
	mu.Unlock()
	blob.release(e0key(t, blob))
}
