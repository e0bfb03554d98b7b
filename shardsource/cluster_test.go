package shardsource

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// cluster is n workers stepped on the test's goroutine, each running the
// same source.
// failer is what the harnesses need of a *testing.T or a *rapid.T.
type failer interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type cluster struct {
	t       failer
	c       *dataflowtest.Cluster
	probes  []*dataflow.ProbeHandle[frontier.Time]
	outs    []*output
	tokens  []*Tokens
	history []frontier.Antichain[frontier.Time] // worker 0's probe, per tick
}

func runCluster(t testing.TB, e *env, workers int, seed uint64, opts Options[string, string]) *cluster {
	cl := runClusterNoCleanup(t, e, workers, seed, opts)
	t.Cleanup(cl.shutdown)
	return cl
}

// runClusterNoCleanup is runCluster for callers that shut down themselves
// (a rapid.T has no Cleanup).
func runClusterNoCleanup(t failer, e *env, workers int, seed uint64, opts Options[string, string]) *cluster {
	cl := &cluster{t: t, c: dataflowtest.NewCluster(workers, seed)}
	cl.c.Build(func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
			parts, tokens := Source(s, "test_source", e.clientFn(), testShard, stringOpts(opts))
			p := dataflow.NewProbeHandle[frontier.Time]()
			cl.probes = append(cl.probes, p)
			cl.outs = append(cl.outs, collect(s, parts, p))
			cl.tokens = append(cl.tokens, tokens)
		})
	})
	return cl
}

// tick does one random step of the cluster, yielding so the sources'
// goroutines run, and records worker 0's frontier.
func (cl *cluster) tick() {
	cl.c.Tick()
	runtime.Gosched()
	f := cl.probes[0].Frontier()
	if n := len(cl.history); n == 0 || !f.Equal(cl.history[n-1]) {
		cl.history = append(cl.history, f.Clone())
	}
}

func (cl *cluster) tickUntil(what string, cond func() bool) {
	cl.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cl.t.Fatalf("timed out waiting for %s (seed %d); frontier %v; goroutines dumped to %s",
				what, cl.c.Seed, cl.probes[0].Frontier(), dumpGoroutines())
		}
		cl.tick()
	}
}

// dumpGoroutines writes every goroutine's stack to a new file in the temp
// directory (kept after the test, unlike t.TempDir) so that a hang can be
// diagnosed, and returns its path or why it could not.
func dumpGoroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	f, err := os.CreateTemp("", "shardsource-hang-*.txt")
	if err != nil {
		return "(not dumped: " + err.Error() + ")"
	}
	defer f.Close()
	if _, err := f.Write(buf); err != nil {
		return "(not dumped: " + err.Error() + ")"
	}
	return f.Name()
}

// quiescent reports whether nothing can happen without outside input:
// every source settled (checked first: a goroutine's last activation is
// then already visible), every worker idle, nothing in flight. settled
// says whether one source has settled.
func (cl *cluster) quiescent(settled func(*Tokens) bool) bool {
	for _, tk := range cl.tokens {
		if !settled(tk) {
			return false
		}
	}
	if cl.c.Fabric.InFlight() > 0 {
		return false
	}
	for _, w := range cl.c.Workers {
		if !w.Idle() {
			return false
		}
	}
	return true
}

// quiesce ticks until the cluster is quiescent.
func (cl *cluster) quiesce() {
	cl.t.Helper()
	cl.settle("quiescence", (*Tokens).Settled)
}

// quiesceFetch is quiesce for a source whose listen goroutine goes on
// listening (a shard still open for writes): it waits for the fetch
// goroutines to settle, not for the listen.
func (cl *cluster) quiesceFetch() {
	cl.t.Helper()
	cl.settle("the fetches' quiescence", (*Tokens).FetchSettled)
}

func (cl *cluster) settle(what string, settled func(*Tokens) bool) {
	cl.t.Helper()
	cl.tickUntil(what, func() bool {
		cl.c.Fabric.DeliverAll(cl.c.Rand)
		cl.c.StepAll()
		return cl.quiescent(settled)
	})
}

func (cl *cluster) rows() []Row {
	var all []Row
	for _, o := range cl.outs {
		all = append(all, o.rows...)
	}
	return all
}

func (cl *cluster) shutdown() {
	if cl.tokens == nil {
		return
	}
	for _, tk := range cl.tokens {
		tk.Drop()
	}
	cl.tokens = nil
	deadline := time.Now().Add(30 * time.Second)
	for cl.c.Running() || cl.c.Fabric.InFlight() > 0 {
		if time.Now().After(deadline) {
			cl.t.Fatalf("cluster did not complete after shutdown (seed %d)", cl.c.Seed)
		}
		cl.tick()
	}
	if err := cl.c.Close(); err != nil {
		cl.t.Fatal(err)
	}
}

func (cl *cluster) listenGoroutines() int {
	n := 0
	for _, tk := range cl.tokens {
		if tk.inst.listenStarted() {
			n++
		}
	}
	return n
}

// 1, 2 and 4 workers give the same consolidated output, and only the chosen
// worker runs a listen goroutine.
func TestMultiWorker(t *testing.T) {
	e := newEnvWithBlob(t, newSlowBlob(mem.NewBlob(), 3, time.Millisecond))
	// Each run's reader moves its since with its progress; hold the
	// shard's since at 0 so the next run may read at 0 again.
	e.holdSince(0)
	var want []Row
	for i := range frontier.Time(12) {
		var rows []Row
		for j := range int(i%4) + 1 {
			rows = append(rows, row(fmt.Sprintf("k%d", (int(i)*7+j)%9), i, int64(j%3)-1+2))
		}
		want = append(want, rows...)
		e.appendAt(i, i+1, rows...)
	}
	var outputs [][]string
	for _, workers := range []int{1, 2, 4} {
		asOf := frontier.From[frontier.Time](0)
		cl := runCluster(t, e, workers, uint64(workers), Options[string, string]{
			AsOf: &asOf, Until: frontier.From[frontier.Time](12), FetchConcurrency: 3,
		})
		cl.tickUntil("every worker's empty frontier", func() bool {
			for _, p := range cl.probes {
				if !p.Done() {
					return false
				}
			}
			return true
		})
		if n := cl.listenGoroutines(); n != 1 {
			t.Fatalf("%d workers: %d listen goroutines, want 1", workers, n)
		}
		for w, o := range cl.outs {
			if len(o.violations) > 0 {
				t.Fatalf("worker %d: %v", w, o.violations)
			}
		}
		outputs = append(outputs, consolidated(cl.rows()))
		cl.shutdown()
	}
	w := consolidated(want)
	for i, got := range outputs {
		if !equalStrings(got, w) {
			t.Fatalf("run %d: got %v\nwant %v", i, got, w)
		}
	}
}
