package shardsource

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
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
