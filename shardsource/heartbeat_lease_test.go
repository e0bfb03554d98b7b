package shardsource

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// A source heartbeats within its client's lease whatever HeartbeatInterval
// says: with the default minute and a 1 s lease, a source idle for 2.5 s
// (waiting for writes) was expired by GC and then failed with
// ErrReaderExpired. The idle time is the subject of the test: the lease
// runs on the real clock.
func TestHeartbeatWithinShortLease(t *testing.T) {
	e := newEnvClient(t, mem.NewBlob(), persist.ClientOptions{LeaseDuration: time.Second, InlineWriteMaxBytes: -1, MergeFanIn: -1})
	e.appendAt(0, 1, row("a", 0, 1))
	var mu sync.Mutex
	var errs []error
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf,
		ErrorHandler: Signal(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() })})
	r.stepUntil("the frontier past 0", func() bool { return !r.frontier().LessEqual(0) })
	for idle := time.Now().Add(2500 * time.Millisecond); time.Now().Before(idle); {
		r.w.StepOrPark(10 * time.Millisecond)
	}
	rep, err := e.client.GC(context.Background(), testShard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ExpiredReaders) > 0 {
		t.Fatalf("GC expired %v: the source did not heartbeat within its 1s lease", rep.ExpiredReaders)
	}
	e.appendAt(1, 2, row("b", 1, 1))
	r.stepUntil("the frontier past 1 or an error", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !r.frontier().LessEqual(1) || len(errs) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
}
