package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sync/errgroup"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/sqlite"
	"github.com/shardflow/shardflow/persist/persisttest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	if p := os.Getenv(roChildEnv); p != "" {
		os.Exit(roChildMain(p))
	}
	if p := os.Getenv(roLoopEnv); p != "" {
		os.Exit(roLoopMain(p))
	}
	goleak.VerifyTestMain(m)
}

func open(t *testing.T, path string) *sqlite.Consensus {
	t.Helper()
	c, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformance(t *testing.T) {
	persisttest.TestConsensus(t, func(t *testing.T) location.Consensus {
		return open(t, filepath.Join(t.TempDir(), "consensus.db"))
	})
}

func TestURL(t *testing.T) {
	for raw, want := range map[string]string{
		"sqlite:///abs/path/consensus.db":    "/abs/path/consensus.db",
		"sqlite://./x.db":                    "./x.db",
		"sqlite://dir/x.db":                  "dir/x.db",
		"sqlite://localhost/abs/x.db":        "/abs/x.db",
		"sqlite:x.db":                        "x.db",
		"sqlite:x.db?busy_timeout=250ms":     "x.db",
		"sqlite:///a/b.db?busy_timeout=1m5s": "/a/b.db",
	} {
		u, _ := url.Parse(raw)
		got, _, err := sqlite.ParseURL(u)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	u, _ := url.Parse("sqlite:x.db?busy_timeout=250ms")
	if _, opts, _ := sqlite.ParseURL(u); opts.BusyTimeout != 250*time.Millisecond {
		t.Errorf("busy_timeout parsed as %v", opts.BusyTimeout)
	}
	for _, raw := range []string{"sqlite://", "sqlite:x.db?nope=1", "sqlite:x.db?busy_timeout=soon", "file:///x.db", "sqlite:///a#b.db"} {
		u, _ := url.Parse(raw)
		if _, _, err := sqlite.ParseURL(u); err == nil {
			t.Errorf("ParseURL(%q) accepted", raw)
		}
	}
}

// TestOpenByURL opens through the registry with a relative path, writes,
// closes, and reads the version back through a new handle: it is on disk.
func TestOpenByURL(t *testing.T) {
	t.Chdir(t.TempDir())
	ctx := t.Context()
	c, err := location.OpenConsensus(ctx, "sqlite://./state.db")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 3, Data: []byte("v3")}); err != nil || res != location.Committed {
		t.Fatal(res, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := c.Head(ctx, "k"); !errors.Is(err, location.ErrClosed) {
		t.Fatalf("Head after Close = %v, want ErrClosed", err)
	}
	c, err = location.OpenConsensus(ctx, "sqlite:state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, ok, err := c.Head(ctx, "k")
	if err != nil || !ok || h.SeqNo != 3 || string(h.Data) != "v3" {
		t.Fatalf("Head after reopen = %v, %v, %v", h, ok, err)
	}
}

// TestBusyIsDeterminate holds the write lock from another connection: a
// compare-and-set that cannot begin within the busy timeout fails
// determinately with SQLITE_BUSY and writes nothing.
func TestBusyIsDeterminate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	c, err := sqlite.Open(t.Context(), path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CompareAndSet(t.Context(), "k", nil, location.VersionedData{SeqNo: 1})
	if err == nil || location.IsIndeterminate(err) || !sqlite.IsBusy(err) {
		t.Fatalf("CompareAndSet under another writer's lock = %v, want determinate busy", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Head(t.Context(), "k"); err != nil || ok {
		t.Fatalf("Head = %v, %v; want nothing written", ok, err)
	}
	if res, err := c.CompareAndSet(t.Context(), "k", nil, location.VersionedData{SeqNo: 1}); err != nil || res != location.Committed {
		t.Fatalf("CompareAndSet after the lock was released = %v, %v", res, err)
	}
}

// TestCancelledBeforeCommitIsDeterminate: a write whose context ends
// after its statements and before its commit is rolled back by
// database/sql without COMMIT being sent: the error says it certainly did
// not apply. (It said the write may have happened.)
func TestCancelledBeforeCommitIsDeterminate(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "consensus.db"))
	defer c.Close()
	if res, err := c.CompareAndSet(t.Context(), "k", nil, location.VersionedData{SeqNo: 1}); err != nil || res != location.Committed {
		t.Fatalf("first compare-and-set: %v, %v", res, err)
	}
	one := location.SeqNo(1)
	for name, write := range map[string]func(context.Context) error{
		"compare-and-set": func(ctx context.Context) error {
			_, err := c.CompareAndSet(ctx, "k", &one, location.VersionedData{SeqNo: 2})
			return err
		},
		"truncate": func(ctx context.Context) error {
			_, err := c.Truncate(ctx, "k", 1)
			return err
		},
	} {
		ctx, cancel := context.WithCancel(t.Context())
		sqlite.SetBeforeCommit(t, cancel)
		err := write(ctx)
		if !errors.Is(err, context.Canceled) || location.IsIndeterminate(err) {
			t.Errorf("%s cancelled before its commit: %v, want a determinate context.Canceled", name, err)
		}
	}
	sqlite.SetBeforeCommit(t, nil)
	if v, ok, err := c.Head(t.Context(), "k"); err != nil || !ok || v.SeqNo != 1 {
		t.Fatalf("head %v, %v, %v; want 1, as before the cancelled writes", v, ok, err)
	}
}

func TestSeqNoTooLarge(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "consensus.db"))
	defer c.Close()
	_, err := c.CompareAndSet(t.Context(), "k", nil, location.VersionedData{SeqNo: 1 << 63})
	if !errors.Is(err, location.ErrSeqNoTooLarge) || location.IsIndeterminate(err) {
		t.Fatalf("CompareAndSet(1<<63) = %v", err)
	}
}

func BenchmarkCompareAndSet(b *testing.B) {
	c, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "consensus.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	persisttest.BenchmarkCompareAndSet(b, c)
}

// TestPathWithSpace: a path with a space survives the URL and the driver's
// DSN.
func TestPathWithSpace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "with space")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := location.OpenConsensus(t.Context(), "sqlite://"+filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CompareAndSet(t.Context(), "k", nil, location.VersionedData{SeqNo: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.db")); err != nil {
		t.Fatalf("database not where the URL says: %v", err)
	}
}

func BenchmarkCompareAndSetParallel(b *testing.B) {
	c, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "consensus.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetParallelism(4)
	persisttest.BenchmarkCompareAndSetParallel(b, c)
}

// Handles opened at once on a new file, each writing and closing it, all
// open: the first switches it to WAL and creates the table, the others
// wait for it. (Before, about one round in twenty failed at once with
// "database is locked": SQLite returns SQLITE_BUSY without calling the
// busy handler while another connection sets the file up or closes it.
// Three demos started together on a fresh location failed so too.)
func TestConcurrentFirstOpens(t *testing.T) {
	const rounds, handles = 40, 4
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "consensus.db")
		var g errgroup.Group
		for h := range handles {
			g.Go(func() error {
				c, err := sqlite.Open(t.Context(), path, sqlite.Options{})
				if err != nil {
					return err
				}
				key := fmt.Sprint("k", h)
				if _, err := c.CompareAndSet(t.Context(), key, nil, location.VersionedData{SeqNo: 1, Data: []byte("x")}); err != nil {
					return errors.Join(err, c.Close())
				}
				return c.Close()
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

// A database the file system will not open says why, beside SQLite's bare
// "unable to open database file": here, that the path is a directory (for
// a user, more often "permission denied").
func TestOpenSaysWhyTheFileWillNotOpen(t *testing.T) {
	dir := t.TempDir()
	_, err := sqlite.Open(t.Context(), dir, sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), "unable to open database file") || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("open of a directory: %v, want SQLite's error and the file system's", err)
	}
}
