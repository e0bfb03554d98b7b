package persist

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
)

// listenInto takes the listen's events until its frontier reaches until,
// adding the rows of its parts to got. It returns the frontier the listen
// had before its last progress, and the first error.
func listenInto(ctx context.Context, c *Client, l *Listen, until Frontier, got contents) (before Frontier, err error) {
	before = l.Frontier()
	for !l.Frontier().Equal(until) {
		at := l.Frontier()
		ev, err := l.Next(ctx)
		if err != nil {
			return before, err
		}
		switch ev.Kind {
		case ListenParts:
			rows, err := fetchAll(ctx, c, ev.Parts)
			if err != nil {
				return before, err
			}
			for r, d := range rows {
				got.add(r.Key, r.Val, r.Time, d)
			}
		case ListenProgress:
			before = at
		}
	}
	return before, nil
}

// listenFromZero opens a writer and a reader of shard "s" on c, appends
// the empty batch [0, 1) and starts a listen as of 0, closed at cleanup.
func listenFromZero(t *testing.T, c *Client) (*WriteHandle, *ReadHandle, *Listen) {
	t.Helper()
	ctx := context.Background()
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenReader(ctx, "s", "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, nil, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	l, err := r.Listen(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return w, r, l
}

// TestListenRefusesBatchMergedAtItsFrontier: a reader moves its since to
// its listen's frontier F, so the writer's next merge joins batches the
// listen has yielded with the new one and advances their rows to F. Those
// rows cannot be told from new rows at F; yielding them would count them
// twice, so the listen fails with a *SinceAdvancedError instead.
func TestListenRefusesBatchMergedAtItsFrontier(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{})
	w, r, l := listenFromZero(t, c)
	want, got := contents{}, contents{}
	for i := frontier.Time(1); i < 7; i++ {
		if err := w.CompareAndAppend(ctx, []Update{up("a", "x", i, 1)}, ts(i), ts(i+1)); err != nil {
			t.Fatal(err)
		}
		want.add("a", "x", i, 1)
	}
	if _, err := listenInto(ctx, c, l, ts(7), got); err != nil {
		t.Fatal(err)
	}
	if err := r.DowngradeSince(ctx, ts(7)); err != nil { // the listen's frontier: too far
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, []Update{up("b", "y", 7, 1)}, ts(7), ts(8)); err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	spans := false
	for _, b := range st.Batches {
		spans = spans || b.Lower.LessEqual(6) && b.Upper.LessEqual(8) && b.Since.Equal(ts(7))
	}
	if !spans {
		t.Fatalf("no batch merged across the listen's frontier at since 7 (batches %+v): the test needs one", st.Batches)
	}
	_, err = listenInto(ctx, c, l, ts(8), got)
	if !errors.Is(err, ErrSinceAdvanced) {
		t.Fatalf("listen past a batch merged at its frontier: err %v, rows %v; want a SinceAdvancedError", err, got)
	}
	if !equalContents(got, want) {
		t.Fatalf("rows yielded before the error %v, want %v", got, want)
	}
}

// TestListenExactWithSinceBehindItsFrontier: a reader that moves its since
// to the frontier its listen had before each progress, while a writer
// appends and merges and compaction runs, reads every update exactly once,
// at its time.
func TestListenExactWithSinceBehindItsFrontier(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{MergeFanIn: 2 + rng.IntN(4)})
	w, r, l := listenFromZero(t, c)
	want, got := contents{}, contents{}
	upper := frontier.Time(1)
	for range 60 {
		next := upper + 1 + frontier.Time(rng.IntN(3))
		var batch []Update
		for range rng.IntN(4) {
			u := up(string(rune('a'+rng.IntN(3))), "v", upper+frontier.Time(rng.IntN(int(next-upper))), 1)
			batch = append(batch, u)
			want.add(string(u.Key), string(u.Val), u.Time, u.Diff)
		}
		if err := w.CompareAndAppend(ctx, batch, ts(upper), ts(next)); err != nil {
			t.Fatal(err)
		}
		upper = next
		if rng.IntN(5) == 0 {
			if _, err := c.Compact(ctx, "s"); err != nil {
				t.Fatal(err)
			}
		}
		before, err := listenInto(ctx, c, l, ts(upper), got)
		if err != nil {
			t.Fatalf("at upper %d: %v", upper, err)
		}
		if err := r.DowngradeSince(ctx, before); err != nil {
			t.Fatal(err)
		}
	}
	if !equalContents(got, want) {
		t.Fatalf("listen yielded %v, want %v", got, want)
	}
}
