package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist"
)

func TestMedianPercentile(t *testing.T) {
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median of 5,1,3 = %v", got)
	}
	if got := median([]time.Duration{4, 1, 3, 2}); got != 2 { // (2+3)/2 in integers
		t.Errorf("median of 4,1,3,2 = %v", got)
	}
	var ds []time.Duration
	for i := range 100 {
		ds = append(ds, time.Duration(100-i))
	}
	if p50, p99 := percentile(ds, 50), percentile(ds, 99); p50 != 50 || p99 != 99 {
		t.Errorf("p50 %v p99 %v of 1..100, want 50 and 99", p50, p99)
	}
	if p := percentile(ds[:1], 99); p != 100 {
		t.Errorf("p99 of one value = %v", p)
	}
}

// P2's linear speed-up counts waves of reads: parts that do not fill the
// last wave leave the concurrency idle. (It was min(fc, parts): 90% of 8x
// for 20 parts at 8, where 3 waves allow 6.67x.)
func TestLinearSpeedup(t *testing.T) {
	for _, c := range []struct {
		parts, fc, waves int
		speedup          float64
	}{
		{64, 8, 8, 8}, {64, 32, 2, 32}, {20, 8, 3, 20.0 / 3}, {100, 32, 4, 25}, {5, 32, 1, 5}, {1, 1, 1, 1},
	} {
		speedup, waves := linearSpeedup(c.parts, c.fc)
		if waves != c.waves || speedup != c.speedup {
			t.Errorf("linearSpeedup(%d, %d) = %v, %d; want %v, %d", c.parts, c.fc, speedup, waves, c.speedup, c.waves)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rows != 1_000_000 || cfg.Parts != 64 || cfg.Latency != 20*time.Millisecond || cfg.Runs != 5 {
		t.Errorf("defaults %+v", cfg)
	}
	q, err := Config{Quick: true, Rows: 5000}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if q.Rows != 5000 || q.Parts != 16 || q.Runs != 3 {
		t.Errorf("quick defaults with rows set: %+v", q)
	}
	for _, bad := range []Config{{Rows: -1}, {Rows: 10, Parts: 11}, {Latency: -time.Second}, {Only: []string{"p1"}}} {
		if _, err := bad.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err %v, want ErrConfig", bad, err)
		}
	}
}

// tinyEnv opens an env of tinyConfig, closed when the test ends.
func tinyEnv(t *testing.T) *env {
	t.Helper()
	cfg, err := tinyConfig().withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEnv(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// heldClient returns a client of e whose reader holds s's since until the
// test ends.
func heldClient(t *testing.T, e *env, s *shard) *persist.Client {
	t.Helper()
	client := newClient(e)
	release, err := holdSince(context.Background(), client, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := release(); err != nil {
			t.Error(err)
		}
	})
	return client
}

// The replay and the baseline both return every row of a generated shard,
// on one and two workers; a count that differs is a wrong result.
func TestReplayReturnsEveryRow(t *testing.T) {
	ctx := context.Background()
	e := tinyEnv(t)
	s, err := e.shardFor(ctx, 5003, 7) // rows do not divide evenly
	if err != nil {
		t.Fatal(err)
	}
	if s.rows != 5003 || len(s.parts) != 7 {
		t.Fatalf("shard has %d rows in %d parts", s.rows, len(s.parts))
	}
	client := heldClient(t, e, s)
	for _, workers := range []int{1, 2} {
		n, err := replayShard(ctx, client, s, replayOpts{workers: workers, fetchConcurrency: 2})
		if err := checkRows("replay", n, s.rows, err); err != nil {
			t.Errorf("%d workers: %v", workers, err)
		}
		n, err = plainReplay(ctx, e.loc, s, workers)
		if err := checkRows("plain", n, s.rows, err); err != nil {
			t.Errorf("%d goroutines: %v", workers, err)
		}
		n, err = fetchReplay(ctx, client, s, workers)
		if err := checkRows("fetch loop", n, s.rows, err); err != nil {
			t.Errorf("%d goroutines: %v", workers, err)
		}
		n, err = pipelinedFetchReplay(ctx, client, s, workers)
		if err := checkRows("pipelined fetch loop", n, s.rows, err); err != nil {
			t.Errorf("%d reader/decoder pairs: %v", workers, err)
		}
	}
	if err := checkRows("replay", s.rows-1, s.rows, nil); !errors.Is(err, ErrWrongResult) {
		t.Errorf("a lost row: err %v, want ErrWrongResult", err)
	}
}

// A part that fails its checksum fails the pipelined loop with the corrupt
// part's error, not with the cancellation it causes its reader; TestMain
// then finds no goroutine left behind.
func TestPipelinedLoopReportsTheFailure(t *testing.T) {
	ctx := context.Background()
	e := tinyEnv(t)
	s, err := e.shardFor(ctx, 4000, 8)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := e.loc.Blob.Get(ctx, s.parts[2].Key)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := e.loc.Blob.Set(ctx, s.parts[2].Key, data); err != nil {
		t.Fatal(err)
	}
	client := heldClient(t, e, s)
	for _, conc := range []int{1, 2} {
		_, err := pipelinedFetchReplay(ctx, client, s, conc)
		var corrupt *persist.BlobCorruptError
		if !errors.As(err, &corrupt) {
			t.Errorf("%d pairs: %v, want the corrupt part's *persist.BlobCorruptError", conc, err)
		}
	}
}

// Cancelling Run while a replay waits on a slow read (P2, behind a blob
// whose reads would take an hour) ends it with the context's error; a
// replay deaf to its context would wait out the hour. TestMain then finds
// no goroutine left behind.
func TestRunCancelled(t *testing.T) {
	cfg := tinyConfig()
	cfg.Only = []string{"P2"}
	cfg.Latency = time.Hour
	waiting := make(chan struct{})
	var once sync.Once
	started := func() { once.Do(func() { close(waiting) }) }
	slowGetStarted.Store(&started)
	defer slowGetStarted.Store(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, cfg)
		done <- err
	}()
	select {
	case <-waiting:
	case err := <-done:
		t.Fatalf("Run returned %v before any slow read", err)
	case <-time.After(time.Minute):
		t.Fatal("no slow read started within a minute")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still running 30s after the cancel: a slow read ignores its context")
	}
}

// A quick run's table says that its goals are judged at sizes they are not
// set for; a full run's does not.
func TestQuickTableCaveat(t *testing.T) {
	for _, quick := range []bool{false, true} {
		rep := Report{Settings: Settings{Quick: quick}, Rows: []Row{newRow("P1", "replay", "rows/s", 9, 10).judge("ratio >= 0.95", false)}}
		var out bytes.Buffer
		if err := rep.WriteTable(&out); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), quickCaveat); got != quick {
			t.Errorf("quick=%v: caveat printed %v:\n%s", quick, got, out.String())
		}
	}
}
