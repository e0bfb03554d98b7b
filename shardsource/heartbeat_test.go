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
// control: heartbeating hourly, the same GC expires the reader (in a
// second round if the listen's one renewal read the moved clock: that
// made the control fail about once in 600 runs on a busy machine).
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
		if beat > lease {
			// The listen goroutine may still renew the lease once, as it
			// moves the reader's since to the frontier (DowngradeSince
			// heartbeats too): if that reads the clock after it moved,
			// the first GC finds the lease fresh. No later renewal comes
			// with nothing written, so a second round must expire it.
			var expired []string
			for round := 0; round < 3 && len(expired) == 0; round++ {
				clk.advance(5 * lease / 2)
				rep, err := e.client.GC(context.Background(), testShard)
				if err != nil {
					t.Fatal(err)
				}
				expired = rep.ExpiredReaders
			}
			if len(expired) != 1 {
				t.Fatalf("heartbeating hourly, GC after 2.5 leases, three times, expired %v: the test cannot tell", expired)
			}
			r.shutdown()
			continue
		}
		for range 5 {
			now := clk.advance(lease / 2)
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
