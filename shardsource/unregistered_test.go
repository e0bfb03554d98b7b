package shardsource

import (
	"context"
	"errors"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
)

// An unregistered source reads a location opened read-only, to the end of
// the shard, where a registered one fails to open its reader; and it
// leaves the state as it found it.
func TestUnregisteredReadsReadOnlyLocation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc, err := persist.DefaultLocation(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := persist.NewClient(loc, persist.ClientOptions{InlineWriteMaxBytes: -1, MergeFanIn: -1}).OpenWriter(ctx, testShard)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		lower, upper frontier.Antichain[frontier.Time]
		rows         []persist.Update
	}{
		{frontier.From[frontier.Time](0), frontier.From[frontier.Time](3), []persist.Update{
			{Key: []byte("a"), Val: []byte("v"), Time: 0, Diff: 1},
			{Key: []byte("b"), Val: []byte("v"), Time: 2, Diff: 1},
		}},
		{frontier.From[frontier.Time](3), frontier.Antichain[frontier.Time]{}, []persist.Update{
			{Key: []byte("a"), Val: []byte("v"), Time: 4, Diff: -1},
		}},
	} {
		if err := w.CompareAndAppend(ctx, b.rows, b.lower, b.upper); err != nil {
			t.Fatal(err)
		}
	}
	if err := loc.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := persist.DefaultLocationReadOnly(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, loc: ro, client: persist.NewClient(ro, persist.ClientOptions{})}
	t.Cleanup(func() { _ = ro.Close() })

	t.Run("registered", func(t *testing.T) {
		var got []error
		r := runSingle(t, e, Options[string, string]{ErrorHandler: Signal(func(err error) { got = append(got, err) })})
		r.stepUntil("the error", func() bool { return len(got) > 0 })
		if !errors.Is(got[0], location.ErrReadOnly) {
			t.Fatalf("registered source on a read-only location: %v, want ErrReadOnly", got[0])
		}
	})
	t.Run("unregistered", func(t *testing.T) {
		asOf := frontier.From[frontier.Time](2)
		r := runSingle(t, e, Options[string, string]{AsOf: &asOf, Unregistered: true})
		r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
		want := []string{"a/v@2+1", "a/v@4-1", "b/v@2+1"}
		if got := consolidated(r.out.rows); !equalStrings(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}

// On a location it could write, an unregistered source still writes
// nothing: no reader appears in the state, whose version stays where it was.
func TestUnregisteredWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 2, row("a", 0, 1), row("b", 1, 1))
	before, err := e.client.State(context.Background(), testShard)
	if err != nil {
		t.Fatal(err)
	}
	until := frontier.From[frontier.Time](2)
	r := runSingle(t, e, Options[string, string]{Until: until, Unregistered: true})
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	if got, want := consolidated(r.out.rows), []string{"a/v@0+1", "b/v@1+1"}; !equalStrings(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	r.shutdown()
	after, err := e.client.State(context.Background(), testShard)
	if err != nil {
		t.Fatal(err)
	}
	if after.SeqNo != before.SeqNo || len(after.Readers) != 0 {
		t.Fatalf("after an unregistered source: state version %d (was %d), readers %v", after.SeqNo, before.SeqNo, after.Readers)
	}
}
