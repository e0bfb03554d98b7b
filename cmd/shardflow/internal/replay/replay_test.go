package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// batch is what a fake source sends at one time, from every worker.
type batch struct {
	t   frontier.Time
	ups []render.Update
}

func up(k string, t uint64, d int64) render.Update {
	return render.Update{Key: []byte(`"` + k + `"`), Val: []byte(`1`), Time: t, Diff: d}
}

// fakeSource sends batches in order, each worker sending each update (so
// the printed diffs are multiplied by the worker count), then either drops
// its capability, or (freezeAt > 0) calls fail and holds its capability at
// freezeAt until every worker has pressed the shutdown button.
func fakeSource(batches []batch, freezeAt frontier.Time) func(*dataflow.Scope[frontier.Time], func(error)) (*Stream, func()) {
	return holdingSource(batches, freezeAt, true)
}

// holdingSource is fakeSource that, with fail false, holds its capability
// at holdAt without reporting an error: a source waiting for more data.
func holdingSource(batches []batch, freezeAt frontier.Time, failing bool) func(*dataflow.Scope[frontier.Time], func(error)) (*Stream, func()) {
	return func(s *dataflow.Scope[frontier.Time], fail func(error)) (*Stream, func()) {
		next := 0
		return testSource(s, "fake", func(c *dataflow.Capability[frontier.Time], out *dataflow.OutPort[frontier.Time, render.Update], activate func()) {
			// One batch per invocation, so the frontier moves between
			// them as a real source's would.
			if next < len(batches) {
				bt := batches[next]
				next++
				c.Downgrade(bt.t)
				out.Session(c).GiveSlice(bt.ups)
				activate()
				return
			}
			if next > len(batches) {
				return
			}
			next++
			if freezeAt > 0 {
				c.Downgrade(freezeAt)
				if failing && s.Index() == 0 {
					fail(errors.New("blob missing"))
				}
				return
			}
			c.Drop()
		})
	}
}

// testSource builds the operator of the tests' fake sources: one output
// and one capability, held until every worker has pressed the shutdown
// button (then dropped). Until then each run of the operator, while the
// capability is held, calls step, which may activate the operator again
// from any goroutine.
func testSource(s *dataflow.Scope[frontier.Time], name string, step func(c *dataflow.Capability[frontier.Time], out *dataflow.OutPort[frontier.Time, render.Update], activate func())) (*Stream, func()) {
	b := dataflow.NewBuilder(s, name)
	out, stream := dataflow.AddOutput[render.Update](b)
	button, token := b.ShutdownButton()
	act := b.SyncActivator()
	b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
		c := caps[0]
		return func() {
			if !c.Valid() {
				return
			}
			if button.AllPressed() {
				c.Drop()
				return
			}
			step(c, out, act.Activate)
		}
	})
	return stream, token.Drop
}

func run(t *testing.T, ctx context.Context, workers int, build func(*dataflow.Scope[frontier.Time], func(error)) (*Stream, func())) (string, error) {
	t.Helper()
	var sb strings.Builder
	err := Run(ctx, Config{Workers: workers, Build: build, Printer: render.NewPrinter(&sb, render.JSONL)})
	return sb.String(), err
}

func TestRunPrintsConsolidatedPerTime(t *testing.T) {
	batches := []batch{
		{0, []render.Update{up("b", 0, 1), up("a", 0, 1), up("a", 0, 1)}},
		{2, []render.Update{up("a", 2, -1), up("c", 3, 1), up("a", 2, 1)}},
	}
	for _, workers := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			got, err := run(t, context.Background(), workers, fakeSource(batches, 0))
			if err != nil {
				t.Fatal(err)
			}
			w := workers
			want := fmt.Sprintf(`{"key":"a","val":1,"time":0,"diff":%d}
{"key":"b","val":1,"time":0,"diff":%d}
{"key":"c","val":1,"time":3,"diff":%d}
`, 2*w, w, w)
			if ups := checkOutput(t, got); ups != want {
				t.Errorf("updates\n%s\nwant\n%s", ups, want)
			}
			if !strings.HasSuffix(got, "{\"frontier\":[]}\n") {
				t.Errorf("output does not end with the empty frontier:\n%s", got)
			}
		})
	}
}

// checkOutput checks that every update is printed after the frontier line
// before it and before the one after it passes its time (the frontier lines
// coalesce differently from run to run: workers see progress at their own
// pace), and that frontiers only advance. It returns the update lines.
func checkOutput(t *testing.T, out string) string {
	t.Helper()
	var ups strings.Builder
	var last []uint64 = []uint64{0}
	for _, line := range strings.SplitAfter(out, "\n") {
		if line == "" {
			continue
		}
		var v struct {
			Frontier *[]uint64
			Time     *uint64
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		switch {
		case v.Frontier != nil:
			f := *v.Frontier
			if len(f) > 1 || (len(last) == 0) || (len(f) == 1 && f[0] <= last[0]) {
				t.Fatalf("frontier %v does not advance from %v:\n%s", f, last, out)
			}
			last = f
		case v.Time != nil:
			if len(last) == 0 || *v.Time < last[0] {
				t.Fatalf("update at %d printed after frontier %v:\n%s", *v.Time, last, out)
			}
			ups.WriteString(line)
		}
	}
	return ups.String()
}

func TestRunFreezesAndReportsOnceQuiescent(t *testing.T) {
	batches := []batch{{0, []render.Update{up("a", 0, 1)}}}
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			got, err := run(t, context.Background(), workers, fakeSource(batches, 5))
			var fe *FrozenError
			if !errors.As(err, &fe) || fmt.Sprint(fe.Frontier) != "[5]" {
				t.Fatalf("err = %v, want a FrozenError at [5]", err)
			}
			want := fmt.Sprintf(`{"key":"a","val":1,"time":0,"diff":%d}
{"frontier":[5]}
{"error":"blob missing","frontier":[5]}
`, workers)
			if got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestRunCancelStopsCleanly(t *testing.T) {
	// A source that never finishes on its own, like a --follow replay:
	// cancelling prints nothing more and returns nil once every worker has
	// stopped (goleak checks the goroutines are gone).
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			batches := []batch{{0, []render.Update{up("a", 0, 1)}}}
			var sb strings.Builder
			printer := &cancelAtFrontier{Printer: render.NewPrinter(&sb, render.JSONL), at: 7, cancel: cancel}
			err := Run(ctx, Config{Workers: workers, Build: holdingSource(batches, 7, false), Printer: printer})
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("{\"key\":\"a\",\"val\":1,\"time\":0,\"diff\":%d}\n{\"frontier\":[7]}\n", workers)
			if sb.String() != want {
				t.Errorf("got\n%s\nwant\n%s", sb.String(), want)
			}
		})
	}
}

// cancelAtFrontier cancels the run once the frontier reaches at.
type cancelAtFrontier struct {
	render.Printer
	at     uint64
	cancel func()
}

func (p *cancelAtFrontier) Frontier(f []uint64) error {
	if len(f) == 1 && f[0] == p.at {
		p.cancel()
	}
	return p.Printer.Frontier(f)
}
