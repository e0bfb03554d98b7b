package shardsource

import (
	"errors"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

// With no explicit as_of the source reads at the reader's since, and its
// frontier moves there even though the shard holds nothing yet (the
// snapshot at 42 waits for the upper to pass 42).
func TestImplicitAsOf(t *testing.T) {
	e := newEnv(t)
	e.holdSince(42)
	r := runSingle(t, e, Options[string, string]{})
	r.stepUntil("frontier [42]", func() bool { return r.frontier().Equal(frontier.From[frontier.Time](42)) })
}

func TestExplicitAsOf(t *testing.T) {
	e := newEnv(t)
	e.holdSince(42)
	asOf := frontier.From[frontier.Time](42)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf})
	r.stepUntil("frontier [42]", func() bool { return r.frontier().Equal(frontier.From[frontier.Time](42)) })
}

func TestFetchesData(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 5, row("b", 1, 1), row("a", 3, -1))
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf})
	r.stepUntil("frontier [5]", func() bool { return r.frontier().Equal(frontier.From[frontier.Time](5)) })
	got := consolidated(r.out.rows)
	want := []string{"a/v@0+1", "a/v@3-1", "b/v@1+1"}
	if !equalStrings(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if len(r.out.violations) > 0 {
		t.Fatalf("rows before their message time: %v", r.out.violations)
	}
}

// The listing path fails (as_of 1 is before the since 3): the handler
// fires, and the frontier stays at as_of however long the worker runs.
func TestListenErrorFreezes(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 5, row("a", 0, 1), row("b", 4, 1))
	e.holdSince(3)
	var got []error
	asOf := frontier.From[frontier.Time](1)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf, ErrorHandler: Signal(func(err error) { got = append(got, err) })})
	r.stepUntil("the error", func() bool { return len(got) > 0 })
	r.quiesce()
	for range 100 {
		r.w.Step()
	}
	if !r.frontier().Equal(frontier.From[frontier.Time](1)) {
		t.Fatalf("frontier %v after a listen error, want [1]", r.frontier())
	}
	var se *Error
	if len(got) != 1 || !errors.Is(got[0], persist.ErrSinceAdvanced) || !errors.As(got[0], &se) || se.Stage != "listen" {
		t.Fatalf("errors %v", got)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
