package shardsource

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

// An Unregistered source resolves as_of (nil: the since) from a reader it
// opens after its StartSignal: that reader holds nothing and learns the
// since when it opens, so one opened before the signal would read at a
// since that has moved since. Before, it opened first (its ClientFunc was
// called before the signal) and read a@1 where the since said a@5.
func TestUnregisteredStartSignalReadsTheSinceAfterIt(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	holder, err := e.client.OpenReader(ctx, testShard, "holder") // since [0]
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Expire(ctx)
	e.appendAt(0, 10, row("a", 1, 1))

	// The ClientFunc says it was called, then holds the source until the
	// test lets it go: a source that opened its reader before awaiting its
	// signal never comes to await it.
	opened, mayOpen := make(chan struct{}), make(chan struct{})
	var once sync.Once
	client := func(ctx context.Context) (*persist.Client, error) {
		once.Do(func() { close(opened) })
		select {
		case <-mayOpen:
			return e.client, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	start := make(chan struct{}) // unbuffered: a send is taken only by a source awaiting it
	var mu sync.Mutex
	var errs []error
	r := runSingleClient(t, e, client, Options[string, string]{
		Unregistered: true, StartSignal: start, Until: frontier.From[frontier.Time](10),
		ErrorHandler: Signal(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }),
	})
	for range 10 {
		r.w.Step() // the descs operator starts the listen goroutine
	}
	if err := holder.DowngradeSince(ctx, frontier.From[frontier.Time](5)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-opened:
		t.Fatal("the unregistered source opened its reader before its start signal")
	case start <- struct{}{}:
		// The source took the signal, having opened nothing.
	case <-time.After(10 * time.Second):
		t.Fatal("the source never awaited its start signal")
	}
	close(mayOpen)
	r.stepUntil("the empty frontier or an error", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return r.frontier().IsEmpty() || len(errs) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if got := consolidated(r.out.rows); !equalStrings(got, []string{"a/v@5+1"}) {
		t.Fatalf("rows %v, want a/v@5+1: read at the since after the signal", got)
	}
}

// runSingleClient is runSingle with the source's own ClientFunc.
func runSingleClient(t testing.TB, e *env, client ClientFunc, opts Options[string, string]) *single {
	w := dataflow.NewWorker()
	r := &single{t: t, w: w, probe: dataflow.NewProbeHandle[frontier.Time]()}
	dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
		parts, tokens := Source(s, "test_source", client, testShard, stringOpts(opts))
		r.out = collect(s, parts, r.probe)
		r.tokens = tokens
	})
	t.Cleanup(r.shutdown)
	return r
}
