package sqlite_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/sqlite"
)

// TestWatchSeesOtherHandlesCommits: a commit through one handle (another
// process, as far as the file is concerned) wakes a watcher of another, and
// a cancelled watch stays quiet.
func TestWatchSeesOtherHandlesCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	watching, writing := open(t, path), open(t, path)
	defer watching.Close()
	defer writing.Close()
	ctx := t.Context()
	notify, cancel, err := watching.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	quiet, cancelQuiet, err := watching.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	cancelQuiet()
	cancelQuiet() // twice is harmless
	var expected *location.SeqNo
	for i := range 3 {
		seq := location.SeqNo(i + 1)
		if _, err := writing.CompareAndSet(ctx, "k", expected, location.VersionedData{SeqNo: seq, Data: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		expected = &seq
		select {
		case <-notify:
		case <-time.After(10 * time.Second):
			t.Fatalf("commit %d: no notification within 10s", seq)
		}
	}
	cancel()
	select {
	case <-quiet:
		t.Fatal("a cancelled watch was notified")
	default:
	}
}

// TestWatchAfterClose: a closed handle refuses new watches, and closing
// stops the event loop (goleak in TestMain checks).
func TestWatchAfterClose(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "consensus.db"))
	if _, _, err := c.Watch(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Watch(t.Context(), "k"); err == nil {
		t.Fatal("watch on a closed handle succeeded")
	}
}

// TestFailedPokeIsLogged: a commit whose notification cannot be written
// still commits, and the failure is logged once on the handle's Logger, not
// dropped (watchers in other processes would fall back to polling without
// a word). Here the notify file cannot be opened: a directory has its name.
func TestFailedPokeIsLogged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	if err := os.Mkdir(path+"-notify", 0o755); err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	c, err := sqlite.Open(t.Context(), path, sqlite.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var expected *location.SeqNo
	for i := range 3 {
		seq := location.SeqNo(i + 1)
		res, err := c.CompareAndSet(t.Context(), "k", expected, location.VersionedData{SeqNo: seq, Data: []byte("v")})
		if err != nil || res != location.Committed {
			t.Fatalf("commit %d: %v, %v", seq, res, err)
		}
		expected = &seq
	}
	got := logged.String()
	if n := strings.Count(got, "level=WARN"); n != 1 {
		t.Fatalf("want one warning for three failed pokes, got %d:\n%s", n, got)
	}
	if !strings.Contains(got, "cannot notify watchers") || !strings.Contains(got, path+"-notify") || !strings.Contains(got, "is a directory") {
		t.Fatalf("the warning lacks the cause or the path:\n%s", got)
	}
}

// handlerFunc is a slog.Handler that calls fn for each record.
type handlerFunc func(slog.Record)

func (h handlerFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (h handlerFunc) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h handlerFunc) WithGroup(string) slog.Handler                 { return h }

// TestFailedPokeLogsOutsideItsLock: the warning of a failed poke is
// logged with no lock of the handle held, so a handler that uses the
// handle (here: Watch) does not hang the commit. It hung when the warning
// was logged under the notifier's mutex.
func TestFailedPokeLogsOutsideItsLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	if err := os.Mkdir(path+"-notify", 0o755); err != nil {
		t.Fatal(err)
	}
	var c *sqlite.Consensus
	watched := make(chan error, 1)
	logger := slog.New(handlerFunc(func(slog.Record) {
		_, cancel, err := c.Watch(context.Background(), "k")
		if err == nil {
			cancel()
		}
		watched <- err
	}))
	c, err := sqlite.Open(t.Context(), path, sqlite.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	// Closed only once the commit returned: Close would wait for it.
	committed := make(chan error, 1)
	go func() {
		_, err := c.CompareAndSet(context.Background(), "k", nil, location.VersionedData{SeqNo: 1, Data: []byte("v")})
		committed <- err
	}()
	select {
	case err := <-committed:
		if cerr := c.Close(); err != nil || cerr != nil {
			t.Fatal(err, cerr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the commit whose poke failed has not returned in 10s: its warning's handler is blocked on the handle")
	}
	// Watch fails (the notify path is a directory), but it returned.
	if err := <-watched; err == nil {
		t.Fatal("Watch of a directory named <path>-notify succeeded")
	}
}
