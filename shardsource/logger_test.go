package shardsource

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// lockedBuffer is a bytes.Buffer the source's goroutines and the test may
// share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A failed heartbeat and a failed expiry at shutdown reach no operator:
// the source says so on its Logger, with the source, the shard and the
// cause. (Both used to be dropped without a word; a reader not expired
// holds the shard's since and its blobs until its lease runs out.)
func TestReaderFailuresAreLogged(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	var logged lockedBuffer
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{
		AsOf:              &asOf,
		HeartbeatInterval: time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(&logged, nil)),
		// The listen's own reads fail too once the consensus is closed:
		// that goes here, as always, and freezes the source.
		ErrorHandler: Signal(func(error) {}),
	})
	r.stepUntil("the frontier past 0", func() bool { return !r.frontier().LessEqual(0) })
	if got := logged.String(); got != "" {
		t.Fatalf("logged before any failure: %s", got)
	}
	// Every consensus operation fails from now on, the expiry's too.
	if err := e.loc.Consensus.Close(); err != nil {
		t.Fatal(err)
	}
	r.stepUntil("a failed heartbeat logged", func() bool { return strings.Contains(logged.String(), "heartbeat failed") })
	r.shutdown()
	got := logged.String()
	for _, want := range []string{"level=WARN", "could not be expired", "source=test_source", "shard=" + string(testShard), "err=", "closed"} {
		if !strings.Contains(got, want) {
			t.Errorf("the log does not say %q:\n%s", want, got)
		}
	}
}

// Once the reader has expired, heartbeating it cannot succeed: the
// heartbeat says so once, at error level, and stops, rather than warn at
// every tick for as long as the frozen source waits to be shut down.
func TestExpiredReaderStopsHeartbeats(t *testing.T) {
	const lease = time.Minute
	start := time.Unix(1_000_000, 0)
	// The source's clock stands still; the collector's is two leases on.
	e := newEnvClient(t, mem.NewBlob(), persist.ClientOptions{Clock: &manualClock{now: start}, LeaseDuration: lease})
	collector := persist.NewClient(e.loc, persist.ClientOptions{Clock: &manualClock{now: start.Add(2 * lease)}, LeaseDuration: lease})
	e.appendAt(0, 1, row("a", 0, 1))
	var logged lockedBuffer
	var mu sync.Mutex
	var signalled []error
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{
		AsOf:              &asOf,
		HeartbeatInterval: time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(&logged, nil)),
		ErrorHandler:      Signal(func(err error) { mu.Lock(); signalled = append(signalled, err); mu.Unlock() }),
	})
	r.stepUntil("the frontier past 0", func() bool { return !r.frontier().LessEqual(0) })
	rep, err := collector.GC(t.Context(), testShard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ExpiredReaders) != 1 {
		t.Fatalf("GC expired %v, want the source's reader", rep.ExpiredReaders)
	}
	const stopped = "the reader expired; heartbeats stop"
	r.stepUntil("the heartbeat to stop and the listen to report the expiry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logged.String(), stopped) && len(signalled) > 0
	})
	if !errors.Is(signalled[0], persist.ErrReaderExpired) {
		t.Errorf("the source reported %v, want ErrReaderExpired", signalled[0])
	}
	r.shutdown()
	got := logged.String()
	if n := strings.Count(got, stopped); n != 1 || !strings.Contains(got, "level=ERROR") {
		t.Errorf("the stop is logged %d times, want once at error level:\n%s", n, got)
	}
	if after := got[strings.Index(got, stopped):]; strings.Contains(after, "heartbeat failed") {
		t.Errorf("heartbeats went on after the stop:\n%s", got)
	}
}
