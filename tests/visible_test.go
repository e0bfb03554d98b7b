package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/postgres/pgtest"
)

// The listener child's role, its switch to polling only, and its lines:
// lineReady once it listens, then "seen <unix nanoseconds>" per batch.
const (
	listenChildRole  = "listener"
	pollOnlyEnv      = "SHARDFLOW_TESTS_POLL_ONLY"
	lineReady        = "ready"
	lineSeen         = "seen "
	visibleWritesEnv = "SHARDFLOW_VISIBLE_WRITES"
)

// hideWatcher is a Consensus without location.Watcher, whatever the store
// underneath implements: its readers fall back to polling.
type hideWatcher struct{ location.Consensus }

// listenChild listens to the shard as of 0 and prints when each batch with
// parts arrives, until its standard input ends.
func listenChild() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		var buf [1]byte
		os.Stdin.Read(buf[:]) // returns at end of file
		cancel()
	}()
	if err := listen(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func listen(ctx context.Context) (err error) {
	loc, err := persist.OpenLocation(ctx, os.Getenv(blobURLEnv), os.Getenv(consensusEnv))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, loc.Close()) }()
	if os.Getenv(pollOnlyEnv) != "" {
		loc.Consensus = hideWatcher{loc.Consensus}
	}
	c := persist.NewClient(loc, persist.ClientOptions{})
	r, err := c.OpenReader(ctx, persist.ShardID(os.Getenv(shardEnv)), "tests: listener")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.Expire(context.WithoutCancel(ctx))) }()
	l, err := r.Listen(ctx, 0)
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(lineReady)
	for {
		ev, err := l.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ev.Kind != persist.ListenParts || len(ev.Parts) == 0 {
			continue
		}
		at := time.Now()
		for _, p := range ev.Parts {
			p.Lease.Release()
		}
		fmt.Printf("%s%d\n", lineSeen, at.UnixNano())
	}
}

// writeToVisible writes one update at each of the times 1..writes and
// returns, for each, the time from the start of its CompareAndAppend to the
// moment a listener in another process saw it. The consensus is PostgreSQL,
// the blob store a directory; pollOnly hides LISTEN/NOTIFY from the
// listener.
func writeToVisible(t testing.TB, writes int, pollOnly bool) []time.Duration {
	t.Helper()
	ctx := context.Background()
	pgURL := pgtest.NewDatabase(t)
	blobURL := location.PathURL("file", t.TempDir())
	const shard = "visible"
	loc, err := persist.OpenLocation(ctx, blobURL, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	w, err := persist.NewClient(loc, persist.ClientOptions{}).OpenWriter(ctx, shard)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	if err := w.CompareAndAppend(ctx, nil, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+listenChildRole, blobURLEnv+"="+blobURL, consensusEnv+"="+pgURL, shardEnv+"="+shard)
	if pollOnly {
		child.Env = append(child.Env, pollOnlyEnv+"=1")
	}
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, stderr := startChild(t, child)
	if l, err := out.next(visibleDeadline); l != lineReady {
		t.Fatalf("listener printed %q (%v), want %q\nstderr: %s", l, err, lineReady, stderr)
	}
	lat := make([]time.Duration, 0, writes)
	for i := range writes {
		tm := frontier.Time(i + 1)
		start := time.Now()
		key := []byte(fmt.Sprintf("k%06d", i))
		if err := w.CompareAndAppend(ctx, []persist.Update{{Key: key, Val: key, Time: tm, Diff: 1}}, ts(tm), ts(tm+1)); err != nil {
			t.Fatal(err)
		}
		l, err := out.next(visibleDeadline)
		ns, ok := strings.CutPrefix(l, lineSeen)
		n, perr := strconv.ParseInt(ns, 10, 64)
		if err != nil || !ok || perr != nil {
			t.Fatalf("write %d: listener printed %q (%v)\nstderr: %s", i, l, err, stderr)
		}
		lat = append(lat, time.Unix(0, n).Sub(start))
	}
	stdin.Close()
	if rest := out.wait(); len(rest) != 0 {
		t.Errorf("listener printed %q after the last write", rest)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("listener: %v\nstderr: %s", err, stderr)
	}
	return lat
}

func percentile(xs []time.Duration, p int) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// TestWriteToVisibleOtherProcess: a listener in another process sees every
// write over PostgreSQL, with notifications and by polling alone.
func TestWriteToVisibleOtherProcess(t *testing.T) {
	for _, pollOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("pollOnly=%v", pollOnly), func(t *testing.T) {
			lat := writeToVisible(t, 10, pollOnly)
			t.Logf("p50 %v, max %v over %d writes", percentile(lat, 50), slices.Max(lat), len(lat))
		})
	}
}

// BenchmarkWriteToVisible measures write-to-visible latency for a listener
// in another process over PostgreSQL consensus (file blobs), woken by
// LISTEN/NOTIFY (Notify) or polling with the client's 10ms-1s backoff
// (Poll). Each iteration is a session of SHARDFLOW_VISIBLE_WRITES writes
// (default 1000); the metrics are p50 and p99 over every write. Run it once:
//
//	go test ./tests -run '^$' -bench WriteToVisible -benchtime 1x
//
// Poll is slow to run: a listener's poll backoff is reset by a wake-up
// (a notification or a write through its own client), not by a poll that
// finds a batch, so under a steady stream of writes from another process it
// settles at ListenPollMax (1s) per write. SHARDFLOW_VISIBLE_WRITES=200
// keeps it near 3 minutes.
//
// The consensus compare-and-set throughput on PostgreSQL is
// persist/location/postgres's BenchmarkCompareAndSet (persisttest).
func BenchmarkWriteToVisible(b *testing.B) {
	writes := 1000
	if s := os.Getenv(visibleWritesEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive count", visibleWritesEnv, s)
		}
		writes = n
	}
	for _, v := range []struct {
		name     string
		pollOnly bool
	}{{"Notify", false}, {"Poll", true}} {
		b.Run(v.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				lat = append(lat, writeToVisible(b, writes, v.pollOnly)...)
			}
			ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
			b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
			b.ReportMetric(float64(len(lat)), "writes")
		})
	}
}
