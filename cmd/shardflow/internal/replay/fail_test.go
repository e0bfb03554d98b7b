package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// failingSource holds a capability at 0 until every worker has pressed
// the shutdown button. On its first run it calls first with fail; on each
// of its next extra runs (it activates itself) it calls fail with a later
// error.
func failingSource(first func(fail func(error)), extra int) func(*dataflow.Scope[frontier.Time], func(error)) (*Stream, func()) {
	return func(s *dataflow.Scope[frontier.Time], fail func(error)) (*Stream, func()) {
		runs := 0
		return testSource(s, "failing", func(_ *dataflow.Capability[frontier.Time], _ *dataflow.OutPort[frontier.Time, render.Update], activate func()) {
			runs++
			switch {
			case runs == 1:
				first(fail)
			case runs <= 1+extra:
				fail(errors.New("a later error"))
			default:
				return
			}
			activate()
		})
	}
}

// TestRunReportsErrorQueuedAtStop: a data error reported just before the
// replay is asked to stop is still the replay's result. Run's loop picks
// at random among the stop, the dataflow's end and the queued error, so
// each case runs many times.
func TestRunReportsErrorQueuedAtStop(t *testing.T) {
	boom := errors.New("blob missing")
	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		out, err := run(t, ctx, 1, failingSource(func(fail func(error)) { fail(boom); cancel() }, 0))
		cancel()
		var fe *FrozenError
		if !errors.As(err, &fe) || !errors.Is(fe.Err, boom) {
			t.Fatalf("err = %v, want a FrozenError of %v; output:\n%s", err, boom, out)
		}
	}
}

// TestRunReportsFirstError: errors after the first (fail called again and
// again) do not replace it.
func TestRunReportsFirstError(t *testing.T) {
	boom := errors.New("blob missing")
	for range 20 {
		out, err := run(t, context.Background(), 1, failingSource(func(fail func(error)) { fail(boom) }, 50))
		var fe *FrozenError
		if !errors.As(err, &fe) || !errors.Is(fe.Err, boom) {
			t.Fatalf("err = %v, want a FrozenError of %v; output:\n%s", err, boom, out)
		}
		if strings.Contains(out, "later") {
			t.Fatalf("a later error was printed:\n%s", out)
		}
	}
}

// atError is a data error that holds the frontier at a time.
type atError struct{ t frontier.Time }

func (e atError) Error() string { return fmt.Sprintf("blob missing at %d", e.t) }

func frozenAt(err error) (frontier.Time, bool) {
	var e atError
	if errors.As(err, &e) {
		return e.t, true
	}
	return 0, false
}

// TestRunReportsErrorAtLeastTime: fetches fail in any order; the error
// reported is the one at the least time, where the frontier stops, even
// when it comes after one at a later time (and again when an error at a
// still later time follows it).
func TestRunReportsErrorAtLeastTime(t *testing.T) {
	for range 20 {
		var sb strings.Builder
		build := failingSource(func(fail func(error)) {
			fail(atError{5})
			fail(atError{3})
			fail(atError{4})
		}, 0)
		err := Run(context.Background(), Config{Workers: 1, Build: build, FrozenAt: frozenAt, Printer: render.NewPrinter(&sb, render.JSONL)})
		var fe *FrozenError
		if !errors.As(err, &fe) || fe.Err != (atError{3}) {
			t.Fatalf("err = %v, want a FrozenError of %v; output:\n%s", err, atError{3}, sb.String())
		}
	}
}
