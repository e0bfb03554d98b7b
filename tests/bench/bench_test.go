package bench

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist"
)

// The Go benchmarks run the measures of Run one figure at a time, for
// benchstat. Their sizes come from these flags (after -args, or directly:
// go test -bench P1 ./tests/bench -rows 200000).
var (
	flagRows    = flag.Int("rows", 1_000_000, "rows of the generated shard (P1, P2; P6 has its own)")
	flagParts   = flag.Int("parts", 64, "parts of the generated shard (P1, P2)")
	flagLatency = flag.Duration("latency", 20*time.Millisecond, "latency per blob read (P2)")
	flagRecords = flag.Int("records", 10_000_000, "records through the Map chain (P3)")
	flagWrites  = flag.Int("writes", 200, "writes per P5 iteration")
)

var benchEnvState struct {
	sync.Mutex
	env *env
}

// benchEnv returns the environment the benchmarks share, opened the first
// time; TestMain closes it.
func benchEnv(b *testing.B) *env {
	benchEnvState.Lock()
	defer benchEnvState.Unlock()
	if benchEnvState.env == nil {
		cfg, err := Config{Rows: *flagRows, Parts: *flagParts, Latency: *flagLatency,
			Records: *flagRecords, Writes: *flagWrites, Runs: 1}.withDefaults()
		if err != nil {
			b.Fatal(err)
		}
		e, err := newEnv(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		benchEnvState.env = e
	}
	return benchEnvState.env
}

func closeBenchEnv() error {
	benchEnvState.Lock()
	defer benchEnvState.Unlock()
	if benchEnvState.env == nil {
		return nil
	}
	err := benchEnvState.env.close()
	benchEnvState.env = nil
	return err
}

// benchShard returns the shared shard and a client of loc holding its since
// for the benchmark's duration.
func benchShard(b *testing.B, loc persist.Location) (*env, *shard, *persist.Client) {
	ctx := context.Background()
	e := benchEnv(b)
	if loc == (persist.Location{}) {
		loc = e.loc
	}
	s, err := e.shardFor(ctx, e.cfg.Rows, e.cfg.Parts)
	if err != nil {
		b.Fatal(err)
	}
	client := persist.NewClient(loc, persist.ClientOptions{})
	release, err := holdSince(ctx, client, s)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := release(); err != nil {
			b.Error(err)
		}
	})
	return e, s, client
}

// benchRead times read, one whole read of the shared shard through the
// client holding its since (on loc, or the env's location when zero), as
// one op. It reports rows/s, through SetBytes MB/s of part blobs, and the
// process's CPU time per op: on a shared machine CPU time tells a change in
// cost from a change in the share of the cores the scheduler gave, which
// wall time mixes up. Its kernel share (sys-ns/op, mostly the blob reads'
// copies) and the page faults per op tell a slower read from a fresh
// buffer faulted in.
func benchRead(b *testing.B, loc persist.Location, what string, read func(context.Context, *env, *shard, *persist.Client) (int64, error)) {
	e, s, client := benchShard(b, loc)
	ctx := context.Background()
	b.ResetTimer()
	u0, _ := processUsage()
	for b.Loop() {
		n, err := read(ctx, e, s, client)
		if err := checkRows(what, n, s.rows, err); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(s.bytes)
	b.ReportMetric(float64(s.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	if u1, ok := processUsage(); ok {
		b.ReportMetric(float64((u1.cpu-u0.cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(u1.switches-u0.switches)/float64(b.N), "ctxsw/op")
		b.ReportMetric(float64((u1.sys-u0.sys).Nanoseconds())/float64(b.N), "sys-ns/op")
		b.ReportMetric(float64(u1.faults-u0.faults)/float64(b.N), "faults/op")
	}
}

func benchReplay(b *testing.B, workers int) {
	benchRead(b, persist.Location{}, "replay", func(ctx context.Context, _ *env, s *shard, c *persist.Client) (int64, error) {
		return replayShard(ctx, c, s, replayOpts{workers: workers, fetchConcurrency: 1})
	})
}

func benchPlain(b *testing.B, conc int) {
	benchRead(b, persist.Location{}, "plain", func(ctx context.Context, e *env, s *shard, _ *persist.Client) (int64, error) {
		return plainReplay(ctx, e.loc, s, conc)
	})
}

func benchFetch(b *testing.B, conc int) {
	benchRead(b, persist.Location{}, "fetch", func(ctx context.Context, _ *env, s *shard, c *persist.Client) (int64, error) {
		return fetchReplay(ctx, c, s, conc)
	})
}

func benchPipelined(b *testing.B, conc int) {
	benchRead(b, persist.Location{}, "pipelined fetch", func(ctx context.Context, _ *env, s *shard, c *persist.Client) (int64, error) {
		return pipelinedFetchReplay(ctx, c, s, conc)
	})
}

func BenchmarkP1Fetch1Goroutine(b *testing.B)  { benchFetch(b, 1) }
func BenchmarkP1Fetch2Goroutines(b *testing.B) { benchFetch(b, 2) }
func BenchmarkP1Pipelined1(b *testing.B)       { benchPipelined(b, 1) }
func BenchmarkP1Pipelined2(b *testing.B)       { benchPipelined(b, 2) }
func BenchmarkP1Replay1Worker(b *testing.B)    { benchReplay(b, 1) }
func BenchmarkP1Replay2Workers(b *testing.B)   { benchReplay(b, 2) }
func BenchmarkP1Plain1Goroutine(b *testing.B)  { benchPlain(b, 1) }
func BenchmarkP1Plain2Goroutines(b *testing.B) { benchPlain(b, 2) }

func BenchmarkP2FetchConcurrency(b *testing.B) {
	e := benchEnv(b)
	slow := persist.Location{Blob: slowBlob{Blob: e.loc.Blob, latency: e.cfg.Latency}, Consensus: e.loc.Consensus}
	for _, fc := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("fc=%d", fc), func(b *testing.B) {
			benchRead(b, slow, "slow replay", func(ctx context.Context, _ *env, s *shard, c *persist.Client) (int64, error) {
				return replayShard(ctx, c, s, replayOpts{workers: 1, fetchConcurrency: fc})
			})
		})
	}
}

func benchChain(b *testing.B, run func(records int) (uint64, error)) {
	n := benchEnv(b).cfg.Records
	want := chainLoop(n)
	u0, _ := processUsage()
	for b.Loop() {
		got, err := run(n)
		if err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("sum %d, plain loop %d", got, want)
		}
	}
	u1, _ := processUsage()
	records := float64(n) * float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
	b.ReportMetric(float64((u1.cpu-u0.cpu).Nanoseconds())/records, "cpu-ns/record")
}

func BenchmarkP3Dataflow(b *testing.B) { benchChain(b, chainDataflow) }

// BenchmarkP3DataflowEveryCore runs the chain on as many workers as
// GOMAXPROCS, as the channel pipeline uses every core.
func BenchmarkP3DataflowEveryCore(b *testing.B) {
	benchChain(b, func(n int) (uint64, error) { return chainDataflowWorkers(n, runtime.GOMAXPROCS(0)) })
}
func BenchmarkP3Loop(b *testing.B) {
	benchChain(b, func(n int) (uint64, error) { return chainLoop(n), nil })
}
func BenchmarkP3Channels(b *testing.B) {
	benchChain(b, func(n int) (uint64, error) { return chainChannels(n), nil })
}

func BenchmarkP4IdleStep(b *testing.B) {
	w, finish := idleWorker()
	b.ResetTimer()
	for b.Loop() {
		w.Step()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/idleOps, "ns/idle-op")
	b.StopTimer()
	if err := finish(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkP5WriteToVisible runs P5's session of -writes writes per
// iteration and reports the mean of the sessions' percentiles.
func BenchmarkP5WriteToVisible(b *testing.B) {
	e := benchEnv(b)
	var p50, p99 float64
	for b.Loop() {
		rows, err := measureP5(context.Background(), e)
		if err != nil {
			b.Fatal(err)
		}
		p50 += rows[0].Shardflow
		p99 += rows[1].Shardflow
	}
	b.ReportMetric(p50/float64(b.N), "p50-ms")
	b.ReportMetric(p99/float64(b.N), "p99-ms")
}

// BenchmarkP6PeakHeap reports the mean of the replays' heap growth (their
// peak over the heap they started with) on P6's own shard, and the budget
// and limit they ran under.
func BenchmarkP6PeakHeap(b *testing.B) {
	ctx := context.Background()
	e := benchEnv(b)
	s, budget, err := p6Shard(ctx, e)
	if err != nil {
		b.Fatal(err)
	}
	client := persist.NewClient(e.loc, persist.ClientOptions{})
	release, err := holdSince(ctx, client, s)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := release(); err != nil {
			b.Error(err)
		}
	}()
	var growth float64
	for b.Loop() {
		h, err := p6Replay(ctx, client, s)
		if err != nil {
			b.Fatal(err)
		}
		growth += float64(h.growth())
	}
	const mib = 1 << 20
	b.ReportMetric(growth/float64(b.N)/mib, "growth-MiB")
	b.ReportMetric(float64(budget)/mib, "budget-MiB")
	b.ReportMetric(float64(p6Limit(budget))/mib, "limit-MiB")
}
