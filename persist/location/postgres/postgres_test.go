package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/postgres"
	"github.com/shardflow/shardflow/persist/location/postgres/pgtest"
	"github.com/shardflow/shardflow/persist/persisttest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func open(t *testing.T, url string) *postgres.Consensus {
	t.Helper()
	c, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConformance runs the suite on one database, emptied for each subtest
// (creating a database per subtest costs more than the subtests).
func TestConformance(t *testing.T) {
	url := pgtest.NewDatabase(t)
	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	persisttest.TestConsensus(t, func(t *testing.T) location.Consensus {
		c := open(t, url)
		if _, err := admin.Exec(t.Context(), `TRUNCATE shardflow_consensus`); err != nil {
			t.Fatal(err)
		}
		return c
	})
}

func TestSchemes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	for _, u := range []string{url, "postgresql" + url[len("postgres"):]} {
		c, err := location.OpenConsensus(t.Context(), u)
		if err != nil {
			t.Fatalf("OpenConsensus(%s): %v", u, err)
		}
		c.Close()
	}
}

// TestWatchOtherConnection: a write through another pool (another process,
// as far as the server knows) wakes a watcher; writes to other keys and lost
// compare-and-sets do not; cancel ends the watch. Notifications arrive on
// one connection in commit order, so a notification for a later write to a
// "fence" key proves every earlier notification has been routed.
func TestWatchOtherConnection(t *testing.T) {
	url := pgtest.NewDatabase(t)
	watcher, writer := open(t, url), open(t, url)
	defer watcher.Close()
	defer writer.Close()
	ctx := t.Context()
	notify, cancel, err := watcher.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	fenceNotify, cancelFence, err := watcher.Watch(ctx, "fence")
	if err != nil {
		t.Fatal(err)
	}
	defer cancelFence()
	var fenceSeq *location.SeqNo
	fence := func() {
		t.Helper()
		next := location.SeqNo(1)
		if fenceSeq != nil {
			next = *fenceSeq + 1
		}
		if res, err := writer.CompareAndSet(ctx, "fence", fenceSeq, location.VersionedData{SeqNo: next}); err != nil || res != location.Committed {
			t.Fatal(res, err)
		}
		fenceSeq = &next
		wait(t, fenceNotify, "a write to the fence key")
	}
	drain := func() (n int) {
		for {
			select {
			case <-notify:
				n++
			default:
				return n
			}
		}
	}

	var expected *location.SeqNo
	for s := location.SeqNo(1); s <= 3; s++ {
		if res, err := writer.CompareAndSet(ctx, "k", expected, location.VersionedData{SeqNo: s}); err != nil || res != location.Committed {
			t.Fatal(res, err)
		}
		expected = &s
	}
	fence()
	if n := drain(); n != 1 {
		t.Fatalf("three writes to k left %d pending notifications, want 1 (coalesced)", n)
	}
	// A lost compare-and-set and a write to another key wake nobody here.
	if res, _ := writer.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 9}); res != location.ExpectationMismatch {
		t.Fatal(res)
	}
	if res, err := writer.CompareAndSet(ctx, "other", nil, location.VersionedData{SeqNo: 1}); err != nil || res != location.Committed {
		t.Fatal(res, err)
	}
	fence()
	if n := drain(); n != 0 {
		t.Fatalf("a lost compare-and-set or a write to another key woke the watcher of k (%d)", n)
	}
	// After cancel, writes to k no longer reach the channel.
	cancel()
	if res, err := writer.CompareAndSet(ctx, "k", expected, location.VersionedData{SeqNo: 4}); err != nil || res != location.Committed {
		t.Fatal(res, err)
	}
	fence()
	if n := drain(); n != 0 {
		t.Fatalf("a cancelled watch was notified (%d)", n)
	}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case <-ch:
	case <-deadline.C:
		t.Fatalf("no notification within 10s after %s", what)
	}
}

// TestCancelWhileWaitingIsIndeterminate: a compare-and-set sent to the
// server and abandoned (its context ended while it waited for the shard's
// lock) reports that it may have happened. It truly may: the server backend
// does not notice the client left until it answers, so once the lock is
// released it can still commit.
func TestCancelWhileWaitingIsIndeterminate(t *testing.T) {
	url := pgtest.NewDatabase(t)
	c := open(t, url)
	defer c.Close()
	blocker, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(context.Background())
	tx, err := blocker.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT pg_advisory_xact_lock(hashtextextended('k', 0))`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 1})
		errc <- err
	}()
	// Step until the server shows the compare-and-set waiting on the lock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := blocker.QueryRow(t.Context(),
			`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the compare-and-set never waited on the lock")
		}
	}
	cancel()
	err = <-errc
	if err == nil || !location.IsIndeterminate(err) {
		t.Fatalf("abandoned compare-and-set = %v, want indeterminate", err)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, landed, err := c.Head(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the abandoned compare-and-set landed: %v", landed)
}

// TestConcurrentOpen: several handles creating the schema at once.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.NewDatabase(t)
	errc := make(chan error, 4)
	for range 4 {
		go func() {
			c, err := postgres.Open(t.Context(), url)
			if err == nil {
				c.Close()
			}
			errc <- err
		}()
	}
	for range 4 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// TestWatchSurvivesLostConnection kills the listening connection's backend:
// the listener reconnects, wakes every watcher (notifications may have been
// lost meanwhile), and later writes wake them again.
func TestWatchSurvivesLostConnection(t *testing.T) {
	url := pgtest.NewDatabase(t)
	c := open(t, url)
	defer c.Close()
	ctx := t.Context()
	notify, cancel, err := c.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d listening backends, %v; want 1", killed, err)
	}
	wait(t, notify, "the listening connection was lost")
	if res, err := c.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 1}); err != nil || res != location.Committed {
		t.Fatal(res, err)
	}
	wait(t, notify, "a write after the listener reconnected")
}

func BenchmarkCompareAndSet(b *testing.B) {
	c, err := postgres.Open(b.Context(), pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	persisttest.BenchmarkCompareAndSet(b, c)
}

func BenchmarkCompareAndSetParallel(b *testing.B) {
	c, err := postgres.Open(b.Context(), pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetParallelism(4)
	persisttest.BenchmarkCompareAndSetParallel(b, c)
}

// mode=ro reads what a read-write handle wrote, creates nothing, refuses
// writes before they reach the server, and still wakes on the writes of
// others (TestReadOnlySessions checks the server refuses them too).
func TestReadOnly(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := t.Context()
	roURL := url + "&mode=ro"
	if !strings.Contains(url, "?") {
		roURL = url + "?mode=ro"
	}
	if _, err := postgres.Open(ctx, roURL); !errors.Is(err, postgres.ErrNotConsensus) || location.IsIndeterminate(err) {
		t.Fatalf("read-only open of an empty database: %v, want ErrNotConsensus", err)
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var created bool
	if err := admin.QueryRow(ctx, `SELECT to_regclass('shardflow_consensus') IS NOT NULL`).Scan(&created); err != nil || created {
		t.Fatalf("the read-only open created the table (%v): %v", created, err)
	}

	rw := open(t, url)
	defer rw.Close()
	if res, err := rw.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 1, Data: []byte("one")}); err != nil || res != location.Committed {
		t.Fatal(res, err)
	}
	ro := open(t, roURL)
	defer ro.Close()
	if v, ok, err := ro.Head(ctx, "k"); err != nil || !ok || v.SeqNo != 1 || string(v.Data) != "one" {
		t.Fatalf("head through mode=ro: %v %v %v", v, ok, err)
	}
	if keys, err := ro.ListKeys(ctx); err != nil || len(keys) != 1 || keys[0] != "k" {
		t.Fatalf("keys through mode=ro: %v %v", keys, err)
	}
	one := location.SeqNo(1)
	if _, err := ro.CompareAndSet(ctx, "k", &one, location.VersionedData{SeqNo: 2}); !errors.Is(err, location.ErrReadOnly) || location.IsIndeterminate(err) {
		t.Fatalf("compare-and-set through mode=ro: %v, want a determinate ErrReadOnly", err)
	}
	if _, err := ro.Truncate(ctx, "k", 1); !errors.Is(err, location.ErrReadOnly) || location.IsIndeterminate(err) {
		t.Fatalf("truncate through mode=ro: %v, want a determinate ErrReadOnly", err)
	}

	notify, cancel, err := ro.Watch(ctx, "k")
	if err != nil {
		t.Fatalf("watch through mode=ro: %v", err)
	}
	defer cancel()
	if res, err := rw.CompareAndSet(ctx, "k", &one, location.VersionedData{SeqNo: 2}); err != nil || res != location.Committed {
		t.Fatal(res, err)
	}
	wait(t, notify, "a write through another handle")

	// The mode is taken from a keyword/value string too, and a bad one is
	// refused without showing the password.
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	kv := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable mode=ro", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	kvro := open(t, kv)
	defer kvro.Close()
	if _, err := kvro.CompareAndSet(ctx, "k", &one, location.VersionedData{SeqNo: 3}); !errors.Is(err, location.ErrReadOnly) {
		t.Fatalf("compare-and-set through a keyword/value mode=ro: %v, want ErrReadOnly", err)
	}
	for _, bad := range []string{
		strings.Replace(roURL, "mode=ro", "password=sekrit&mode=rx", 1),
		strings.Replace(kv, "mode=ro", "password=sekrit mode=rx", 1),
	} {
		if _, err := postgres.Open(ctx, bad); err == nil || !strings.Contains(err.Error(), "want ro or rw") || strings.Contains(err.Error(), "sekrit") {
			t.Fatalf("mode=rx: %v, want a refusal without the password", err)
		}
	}
}

// A role that may read the table but not write it opens as usual (the
// table exists), and its writes fail with ErrReadOnly: what the CLI takes
// for a location it cannot write.
func TestReadOnlyRole(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := t.Context()
	rw := open(t, url)
	defer rw.Close()
	if res, err := rw.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 1, Data: []byte("one")}); err != nil || res != location.Committed {
		t.Fatal(res, err)
	}
	role, roleURL := newRole(t, url, "shardflow_reader",
		`GRANT USAGE ON SCHEMA public TO %s`,
		`GRANT SELECT ON shardflow_consensus TO %s`)
	reader := open(t, roleURL)
	defer reader.Close()
	if v, ok, err := reader.Head(ctx, "k"); err != nil || !ok || v.SeqNo != 1 {
		t.Fatalf("head as %s: %v %v %v", role, v, ok, err)
	}
	one := location.SeqNo(1)
	_, err := reader.CompareAndSet(ctx, "k", &one, location.VersionedData{SeqNo: 2})
	if !errors.Is(err, location.ErrReadOnly) || location.IsIndeterminate(err) {
		t.Fatalf("compare-and-set as %s: %v, want a determinate ErrReadOnly", role, err)
	}
}

// TestCompareAndSetUnderRepeatableReadDefault: a URL (or a server, database
// or role) whose default isolation is REPEATABLE READ does not change what
// a compare-and-set checks. Writer A holds the shard's lock with version 6
// inserted on head 5; B's compare-and-set expecting 5 waits for the lock,
// and must then see 6 and lose. (At REPEATABLE READ, B's snapshot was taken
// before the lock: with next 7 it committed over 6, with next 6 it failed
// with a serialization error instead of a mismatch.)
func TestCompareAndSetUnderRepeatableReadDefault(t *testing.T) {
	for _, next := range []location.SeqNo{6, 7} {
		t.Run(fmt.Sprint("next=", next), func(t *testing.T) {
			url := pgtest.NewDatabase(t)
			ctx := t.Context()
			b := open(t, url+"&default_transaction_isolation=repeatable%20read")
			defer b.Close()
			if r, err := b.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 5, Data: []byte("v5")}); err != nil || r != location.Committed {
				t.Fatalf("first compare-and-set: %v %v", r, err)
			}
			a, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close(context.Background())
			tx, err := a.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background())
			// As CompareAndSet does it, in an open transaction.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "k"); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO shardflow_consensus (shard, seqno, data) VALUES ('k', 6, 'v6')`); err != nil {
				t.Fatal(err)
			}
			type result struct {
				r   location.CaSResult
				err error
			}
			done := make(chan result, 1)
			go func() {
				five := location.SeqNo(5)
				r, err := b.CompareAndSet(ctx, "k", &five, location.VersionedData{SeqNo: next, Data: []byte("b")})
				done <- result{r, err}
			}()
			waitFor(t, "B to wait for the shard's lock", func() bool {
				var waiting int
				if err := a.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				return waiting > 0
			})
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			got := <-done
			if got.err != nil || got.r != location.ExpectationMismatch {
				t.Fatalf("compare-and-set expecting 5 after 6 committed: %v, %v; want ExpectationMismatch", got.r, got.err)
			}
			if v, ok, err := b.Head(ctx, "k"); err != nil || !ok || v.SeqNo != 6 {
				t.Fatalf("head %v %v %v, want 6", v, ok, err)
			}
		})
	}
}

// waitFor polls cond until it holds, failing after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOpenAsTableWriter: a role that may read and write the table, but not
// create tables in the schema (PostgreSQL 15's default for all but the
// owner on public), opens the consensus for writing and writes.
func TestOpenAsTableWriter(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := t.Context()
	open(t, url).Close() // creates the table
	role, roleURL := newRole(t, url, "shardflow_writer",
		`REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
		`GRANT USAGE ON SCHEMA public TO %s`,
		`GRANT SELECT, INSERT, DELETE ON shardflow_consensus TO %s`)
	c, err := postgres.Open(ctx, roleURL)
	if err != nil {
		t.Fatalf("open as %s: %v", role, err)
	}
	defer c.Close()
	if r, err := c.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 1, Data: []byte("one")}); err != nil || r != location.Committed {
		t.Fatalf("compare-and-set as %s: %v %v", role, r, err)
	}
}

// newRole creates a login role named prefix and a number, runs grants on
// url's database (each %s is the role's name), drops the role and what it
// owns when the test ends, and returns the role and a URL that logs in as
// it.
func newRole(t *testing.T, url, prefix string, grants ...string) (role, roleURL string) {
	t.Helper()
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) }) // after the role's cleanup
	role = fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	for _, q := range append([]string{`CREATE ROLE %s LOGIN`}, grants...) {
		if strings.Contains(q, "%s") {
			q = fmt.Sprintf(q, role)
		}
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	t.Cleanup(func() {
		for _, q := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			if _, err := admin.Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
	})
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return role, fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", cfg.Host, cfg.Port, role, cfg.Database)
}
