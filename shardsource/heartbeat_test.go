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

// manualClock is a persist.Clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// The heartbeat keeps a following source's reader registered past its
// lease. The client's clock moves on by two and a half leases, half a
// lease at a time, each step waiting for the heartbeat to record the new
// time; GC then expires nothing and the source goes on reading. The
// control: heartbeating hourly, the same GC expires the reader.
func TestHeartbeatKeepsReaderPastLease(t *testing.T) {
	const lease = time.Minute
	for _, beat := range []time.Duration{time.Millisecond, time.Hour} {
		clk := &manualClock{now: time.Unix(1_000_000, 0)}
		e := newEnvClient(t, mem.NewBlob(), persist.ClientOptions{Clock: clk, LeaseDuration: lease, InlineWriteMaxBytes: -1, MergeFanIn: -1})
		e.appendAt(0, 1, row("a", 0, 1))
		var mu sync.Mutex
		var errs []error
		asOf := frontier.From[frontier.Time](0)
		r := runSingle(t, e, Options[string, string]{AsOf: &asOf, HeartbeatInterval: beat,
			ErrorHandler: Signal(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() })})
		r.stepUntil("the frontier past 0", func() bool { return !r.frontier().LessEqual(0) })
		for range 5 {
			now := clk.advance(lease / 2)
			if beat > lease {
				continue
			}
			r.stepUntil("a heartbeat at "+now.String(), func() bool {
				st, err := e.client.State(context.Background(), testShard)
				if err != nil {
					t.Fatal(err)
				}
				return len(st.Readers) == 1 && st.Readers[0].LastHeartbeatMs == now.UnixMilli()
			})
		}
		rep, err := e.client.GC(context.Background(), testShard)
		if err != nil {
			t.Fatal(err)
		}
		if beat > lease {
			if len(rep.ExpiredReaders) != 1 {
				t.Fatalf("heartbeating hourly, GC after 2.5 leases expired %v: the test cannot tell", rep.ExpiredReaders)
			}
			r.shutdown()
			continue
		}
		if len(rep.ExpiredReaders) != 0 {
			t.Fatalf("GC expired %v, whose heartbeat kept up", rep.ExpiredReaders)
		}
		e.appendAt(1, 2, row("b", 1, 1))
		r.stepUntil("the frontier past 1", func() bool { return !r.frontier().LessEqual(1) })
		if got := consolidated(r.out.rows); !equalStrings(got, []string{"a/v@0+1", "b/v@1+1"}) {
			t.Fatalf("rows %v", got)
		}
		mu.Lock()
		if len(errs) > 0 {
			t.Fatalf("source errors: %v", errs)
		}
		mu.Unlock()
		r.shutdown()
	}
}
