package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// slowFetchSource is a source whose worker 0 emits its only update at time 0
// from a goroutine (a fetch) that takes slow to finish, while the last
// worker reports a data error at once and every worker then holds its
// capability at 5. settled reports, per worker, whether its goroutine can
// still deliver.
func slowFetchSource(slow time.Duration) (build func(*dataflow.Scope[frontier.Time], func(error)) (*Stream, func()), settled func(int) bool) {
	pending := make([]atomic.Bool, 8)
	results := make([]chan render.Update, 8)
	build = func(s *dataflow.Scope[frontier.Time], fail func(error)) (*Stream, func()) {
		i := s.Index()
		if i == 0 {
			results[0] = make(chan render.Update, 1)
			pending[0].Store(true)
		}
		started := false
		return testSource(s, "slow", func(c *dataflow.Capability[frontier.Time], out *dataflow.OutPort[frontier.Time, render.Update], activate func()) {
			if !started {
				started = true
				if i == s.Peers()-1 {
					fail(errors.New("blob missing"))
				}
				if i != 0 {
					c.Downgrade(5)
					return
				}
				// The fetch: latency simulated, not synchronization.
				go func() {
					time.Sleep(slow)
					results[0] <- up("a", 0, 1)
					activate()
					pending[0].Store(false)
				}()
				return
			}
			if i == 0 {
				select {
				case u := <-results[0]:
					out.Session(c).Give(u)
					c.Downgrade(5)
				default:
				}
			}
		})
	}
	settled = func(i int) bool { return !pending[i].Load() && len(results[i]) == 0 }
	return build, settled
}

// TestRunWaitsForSlowFetchBeforeReportingFreeze: a fetch still running on
// one worker when another reports a data error is not quiescence, however
// long it takes (here many quiet intervals); the update it brings is
// printed and the freeze is reported at the frontier it reaches.
func TestRunWaitsForSlowFetchBeforeReportingFreeze(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			build, settled := slowFetchSource(10 * quietInterval)
			checkFrozenAt5(t, Config{Workers: workers, Build: build, Settled: settled})
		})
	}
}

// checkFrozenAt5 runs cfg, whose source (slowFetchSource's) brings one
// update and then fails, and checks that Run printed the update and the
// frontier [5] before it reported the freeze there.
func checkFrozenAt5(t *testing.T, cfg Config) {
	t.Helper()
	var sb strings.Builder
	cfg.Printer = render.NewPrinter(&sb, render.JSONL)
	err := Run(context.Background(), cfg)
	var fe *FrozenError
	if !errors.As(err, &fe) || fmt.Sprint(fe.Frontier) != "[5]" {
		t.Fatalf("err = %v, want a FrozenError at [5]; output:\n%s", err, sb.String())
	}
	want := `{"key":"a","val":1,"time":0,"diff":1}
{"frontier":[5]}
{"error":"blob missing","frontier":[5]}
`
	if sb.String() != want {
		t.Errorf("got\n%s\nwant\n%s", sb.String(), want)
	}
}

// slowOn passes s through; on worker w, each run that sees the input
// frontier move takes d: real work in an operator, or a worker the
// machine does not schedule for a while in the middle of its step.
func slowOn(s *Stream, w int, d time.Duration) *Stream {
	b := dataflow.NewBuilder(s.Scope(), "slow")
	in := dataflow.AddInput(b, s, dataflow.Pipeline[render.Update]())
	out, stream := dataflow.AddOutput[render.Update](b)
	b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
		caps[0].Drop()
		last := frontier.Minimum[frontier.Time]()
		return func() {
			in.ForEach(func(ref dataflow.CapabilityRef[frontier.Time], data []render.Update) {
				out.SessionAt(ref).GiveBatch(data)
			})
			if f := in.Frontier(); !f.Equal(last) {
				last = f.Clone()
				if s.Scope().Index() == w {
					time.Sleep(d) // the slow step, simulated
				}
			}
		}
	})
	return stream
}

// TestRunWaitsForStepOnReceivedProgress: a worker that has received a
// peer's progress is busy until the step that handles it is over, however
// long that step takes (here several quiet intervals). The envelope is no
// longer in flight once received and the worker's idle flag is the one it
// set after its previous step: counted as idle meanwhile, the worker
// would let Run report the freeze at [0], before its capture reported the
// frontier the progress moves to [5].
func TestRunWaitsForStepOnReceivedProgress(t *testing.T) {
	build, settled := slowFetchSource(10 * quietInterval)
	slowBuild := func(s *dataflow.Scope[frontier.Time], fail func(error)) (*Stream, func()) {
		out, stop := build(s, fail)
		return slowOn(out, 1, 5*quietInterval), stop
	}
	checkFrozenAt5(t, Config{Workers: 2, Build: slowBuild, Settled: settled})
}

// TestRunWaitsForStepOnActivation: a worker that a goroutine Settled does
// not cover has activated (the listen goroutine, which FetchSettled leaves
// out, delivering descs) is busy until the step that runs the activation is
// over, however long that step takes. Its idle flag is the one it set after
// its previous step, when it had nothing to do: counted as idle meanwhile,
// the worker would let Run report the freeze at [0], before the step gave
// the update and moved the frontier to [5].
//
// The goroutine reports the data error only after it has activated: Run
// watches for quiescence only once an error is queued, and before the
// activation nothing (no Settled, no count) tells Run that the goroutine
// is still to deliver. Reported first, a goroutine descheduled for two
// quiet intervals between Settled saying true and its activation made Run
// rightly report the freeze at [0].
func TestRunWaitsForStepOnActivation(t *testing.T) {
	var (
		delivered atomic.Bool
		once      sync.Once
		counted   = make(chan struct{}) // closed once Settled said true
		result    = make(chan render.Update, 1)
	)
	build := func(s *dataflow.Scope[frontier.Time], fail func(error)) (*Stream, func()) {
		started := false
		return testSource(s, "listen", func(c *dataflow.Capability[frontier.Time], out *dataflow.OutPort[frontier.Time, render.Update], activate func()) {
			if !started {
				started = true
				go func() {
					result <- up("a", 0, 1)
					delivered.Store(true)
					// Activate once the worker has counted itself
					// settled after a step: it is parked, idle.
					<-counted
					activate()
					// Only now may Run look for quiescence (see above).
					fail(errors.New("blob missing"))
				}()
				return
			}
			select {
			case u := <-result:
				time.Sleep(5 * quietInterval) // the slow step, simulated
				out.Session(c).Give(u)
				c.Downgrade(5)
			default:
			}
		})
	}
	settled := func(int) bool {
		if !delivered.Load() {
			return false
		}
		once.Do(func() { close(counted) })
		return true
	}
	checkFrozenAt5(t, Config{Workers: 1, Build: build, Settled: settled})
}
