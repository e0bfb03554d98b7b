package persist

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// smallBuilder returns a builder whose buffer holds a few updates, whose
// runs are cut into parts of a few rows and whose merges read three runs at
// a time, so that a few hundred updates take every path: several runs,
// several merge passes, a final merge.
func smallBuilder(c *Client, lower frontier.Time) *BatchBuilder {
	b := c.NewBatchBuilder("s", ts(lower), 200)
	b.runPart, b.fanIn = 100, 3
	return b
}

// batchRows reads the rows of the shard's single batch, part by part in
// order, checking that together they are one consolidated run: sorted by
// (key, val, time), each (key, val, time) once, no zero diff.
func batchRows(t *testing.T, c *Client) contents {
	t.Helper()
	ctx := context.Background()
	s, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	out := contents{}
	var prev *Update
	for _, b := range s.Batches {
		for _, p := range b.Parts {
			d, err := c.fetchDecoded(ctx, "s", p, "")
			if err != nil {
				t.Fatal(err)
			}
			for i := range d.Len() {
				u := Update{Key: []byte(string(d.Key(i))), Val: []byte(string(d.Val(i))), Time: d.Time(i), Diff: d.Diff(i)}
				if u.Diff == 0 || prev != nil && compareUpdates(*prev, u) >= 0 {
					t.Fatalf("part %s row %d %+v: not one consolidated run after %+v", p.Key, i, u, prev)
				}
				prev = &u
				out.add(string(u.Key), string(u.Val), u.Time, u.Diff)
			}
			d.Release()
		}
	}
	return out
}

// TestBatchBuilderMatchesCompareAndAppend builds random batches through
// runs and merge passes and checks each is the batch CompareAndAppend
// writes for the same updates: the same rows, one consolidated run.
func TestBatchBuilderMatchesCompareAndAppend(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	ctx := context.Background()
	for iter := range 20 {
		n := rng.IntN(400)
		var us []Update
		want := contents{}
		for range n {
			u := up(fmt.Sprint("k", rng.IntN(30)), fmt.Sprint("v", rng.IntN(3)), frontier.Time(5+rng.IntN(4)), int64(rng.IntN(5)-2))
			us = append(us, u)
			want.add(string(u.Key), string(u.Val), u.Time, u.Diff)
		}
		c := newEnv().client(ClientOptions{InlineWriteMaxBytes: -1, MergeFanIn: -1, PartTargetSize: 300})
		w, err := c.OpenWriter(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		b := smallBuilder(c, 0)
		for _, u := range us {
			if err := b.Add(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		runs := len(b.runs)
		if iter%2 == 1 {
			// Sealed first: the same batch, and no run left behind.
			if err := b.Seal(ctx); err != nil {
				t.Fatalf("iteration %d: seal: %v", iter, err)
			}
		}
		if err := w.AppendBatch(ctx, b, ts(9)); err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		if got := batchRows(t, c); !equalContents(got, want) {
			t.Fatalf("iteration %d (%d updates, %d runs): batch %v, want %v", iter, n, runs, got, want)
		}
		// The merge cuts its output at the target size: some 11 rows.
		if parts := referencedBlobs(t, c); len(want) > 30 && parts < len(want)/11/2 {
			t.Fatalf("iteration %d: %d rows in %d parts, want parts of about 300 bytes", iter, len(want), parts)
		}
		// Every run was merged away or became the batch's parts.
		if live, all := referencedBlobs(t, c), blobCount(t, c.loc.Blob, ""); live != all {
			t.Fatalf("iteration %d: %d blobs, %d referenced: runs left behind", iter, all, live)
		}
		if u := w.Upper(); !u.LessEqual(9) || u.LessThan(9) {
			t.Fatalf("upper %v, want [9]", u)
		}
	}
}

// noBlobsLeft fails the test if c's location holds any blob after what
// happened.
func noBlobsLeft(t *testing.T, c *Client, after string) {
	t.Helper()
	if n := blobCount(t, c.loc.Blob, ""); n != 0 {
		t.Fatalf("%d blobs left after %s", n, after)
	}
}

// referencedBlobs counts the blobs the shard's state references.
func referencedBlobs(t *testing.T, c *Client) int {
	t.Helper()
	s, err := c.State(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range s.Batches {
		for _, p := range b.Parts {
			if p.Inline == nil {
				n++
			}
		}
	}
	return n
}

// TestBatchBuilderSumsDiffsExactlyAcrossRuns checks the overflow rule of
// CompareAndAppend holds across runs: diffs whose partial sums leave the
// int64 range but whose total fits are kept as the total, and a total that
// does not fit fails the append with nothing left behind.
func TestBatchBuilderSumsDiffsExactlyAcrossRuns(t *testing.T) {
	ctx := context.Background()
	const max = math.MaxInt64
	for _, tc := range []struct {
		diffs []int64
		want  int64 // 0: the append must fail
	}{
		{[]int64{max, max, -max}, max},
		{[]int64{max, max, -max, -max, 5}, 5},
		{[]int64{max, max, 1, -max}, 0},
		{[]int64{math.MinInt64, -1}, 0},
	} {
		c, w := blobWriter(t)
		b := c.NewBatchBuilder("s", ts(0), 1) // a run per update
		for _, d := range tc.diffs {
			if err := b.Add(ctx, up("a", "", 0, d)); err != nil {
				t.Fatal(err)
			}
			// Padding, so the runs hold rows the merge must step past.
			if err := b.Add(ctx, up(fmt.Sprint("p", d), "", 0, 1)); err != nil {
				t.Fatal(err)
			}
		}
		if len(b.runs) < len(tc.diffs) {
			t.Fatalf("diffs %v: %d runs, want one per update", tc.diffs, len(b.runs))
		}
		err := w.AppendBatch(ctx, b, ts(1))
		if tc.want == 0 {
			var oe *DiffOverflowError
			if !errors.Is(err, ErrInvalidUpdate) || !errors.As(err, &oe) || string(oe.Key) != "a" {
				t.Fatalf("diffs %v: %v, want ErrInvalidUpdate with a *DiffOverflowError for key a", tc.diffs, err)
			}
			noBlobsLeft(t, c, fmt.Sprintf("a refused append of diffs %v", tc.diffs))
			continue
		}
		if err != nil {
			t.Fatalf("diffs %v: %v", tc.diffs, err)
		}
		if got := batchRows(t, c); got[row{"a", "", 0}] != tc.want {
			t.Fatalf("diffs %v: batch %v, want a at %d", tc.diffs, got, tc.want)
		}
	}
}

// TestBatchBuilderChecksASingleRunKeptApart checks that a batch written as
// one run, whose rows of one (key, val, time) stayed apart, still fails when
// their total does not fit.
func TestBatchBuilderChecksASingleRunKeptApart(t *testing.T) {
	ctx := context.Background()
	c, w := blobWriter(t)
	us := []Update{up("a", "", 0, math.MaxInt64), up("a", "", 0, 1)}
	b := c.NewBatchBuilder("s", ts(0), 2*bufferedSize(us[0])) // the second Add writes the run
	for _, u := range us {
		if err := b.Add(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if len(b.runs) != 1 || !b.runs[0].apart || len(b.buf) != 0 {
		t.Fatalf("runs %+v, buffer %d: want one run with rows kept apart, nothing buffered", b.runs, len(b.buf))
	}
	if err := w.AppendBatch(ctx, b, ts(1)); !errors.Is(err, ErrDiffOverflow) {
		t.Fatalf("append of diffs summing past the int64 range: %v, want ErrDiffOverflow", err)
	}
	noBlobsLeft(t, c, "a refused append")
}

// TestBatchBuilderRefusals checks the builder's errors: a time before the
// lower (the builder goes on), a time not before the upper, an upper that
// moved, and a run gone missing. Each failed append leaves no blob.
func TestBatchBuilderRefusals(t *testing.T) {
	ctx := context.Background()
	fill := func(c *Client, lower frontier.Time) *BatchBuilder {
		b := smallBuilder(c, lower)
		for i := range 50 {
			if err := b.Add(ctx, up(fmt.Sprint("k", i), "v", lower+frontier.Time(i%3), 1)); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}

	t.Run("before lower", func(t *testing.T) {
		c, w := blobWriter(t)
		b := fill(c, 2)
		if err := b.Add(ctx, up("x", "", 1, 1)); !errors.Is(err, ErrInvalidUpdate) || !strings.Contains(err.Error(), "before the batch's lower") {
			t.Fatalf("Add at 1 to a batch from 2: %v", err)
		}
		// The shard's upper is 0, not 2: the append fails, yet the
		// builder took the refusal in its stride.
		var mismatch *UpperMismatchError
		if err := w.AppendBatch(ctx, b, ts(9)); !errors.As(err, &mismatch) {
			t.Fatalf("append expecting [2] to a shard at [0]: %v", err)
		}
		noBlobsLeft(t, c, "an upper mismatch")
		if err := b.Add(ctx, up("x", "", 2, 1)); !errors.Is(err, ErrBuilderDone) {
			t.Fatalf("Add after the append: %v, want ErrBuilderDone", err)
		}
	})
	t.Run("not before upper", func(t *testing.T) {
		c, w := blobWriter(t)
		b := fill(c, 0)
		if err := w.AppendBatch(ctx, b, ts(2)); !errors.Is(err, ErrInvalidUpdate) {
			t.Fatalf("append of times up to 2 as [0, 2): %v", err)
		}
		noBlobsLeft(t, c, "a refused append")
	})
	t.Run("run missing", func(t *testing.T) {
		c, w := blobWriter(t)
		b := fill(c, 0)
		// As a janitor with too short a minimum age would.
		if _, err := c.loc.Blob.Delete(ctx, b.runs[0].parts[0].Key); err != nil {
			t.Fatal(err)
		}
		if err := w.AppendBatch(ctx, b, ts(3)); !errors.Is(err, ErrBlobMissing) {
			t.Fatalf("append with a run part gone: %v, want ErrBlobMissing", err)
		}
		if u := w.Upper(); !u.LessEqual(0) || u.LessThan(0) {
			t.Fatalf("upper %v after a failed append, want [0]", u)
		}
		noBlobsLeft(t, c, "a failed append")
	})
	t.Run("abort", func(t *testing.T) {
		c, w := blobWriter(t)
		b := fill(c, 0)
		if len(b.runs) == 0 {
			t.Fatal("no runs written: the test tests nothing")
		}
		b.Abort()
		noBlobsLeft(t, c, "Abort")
		if err := w.AppendBatch(ctx, b, ts(3)); !errors.Is(err, ErrBuilderDone) || isIndeterminate(err) {
			t.Fatalf("append of an aborted batch: %v, want a determinate ErrBuilderDone", err)
		}
	})
}

// TestBatchBuilderSmallIsCompareAndAppend checks that a batch that never
// filled the buffer is appended as CompareAndAppend would: inline, when
// small enough.
func TestBatchBuilderSmallIsCompareAndAppend(t *testing.T) {
	ctx := context.Background()
	c := newEnv().client(ClientOptions{MergeFanIn: -1})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	b := c.NewBatchBuilder("s", ts(0), 0)
	for _, u := range []Update{up("b", "", 1, 1), up("a", "", 0, 2), up("b", "", 1, -1)} {
		if err := b.Add(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AppendBatch(ctx, b, ts(2)); err != nil {
		t.Fatal(err)
	}
	s, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Batches) != 1 || len(s.Batches[0].Parts) != 1 || s.Batches[0].Parts[0].Inline == nil {
		t.Fatalf("batches %+v, want one with one inline part", s.Batches)
	}
	if got, want := batchRows(t, c), (contents{{"a", "", 0}: 2}); !equalContents(got, want) {
		t.Fatalf("batch %v, want %v", got, want)
	}
}

// A builder whose only run a janitor reaped fails the append with
// ErrBlobMissing and commits nothing: a single run becomes the batch
// unread, so nothing else would notice the blob is gone, and the state
// would reference it.
func TestAppendBatchSingleRunReaped(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	b := c.NewBatchBuilder("s", ts(0), 1) // every Add flushes a run
	if err := b.Add(ctx, up("a", "", 0, 1)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := c.Janitor(ctx, "s", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := w.AppendBatch(ctx, b, ts(1)); !errors.Is(err, ErrBlobMissing) || location.IsIndeterminate(err) {
		t.Fatalf("append of a reaped run: %v, want a determinate ErrBlobMissing", err)
	}
	st, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Batches) != 0 || !st.Upper.Equal(ts(0)) {
		t.Fatalf("after the failed append the state holds %d batches, upper %v", len(st.Batches), st.Upper)
	}
	v, err := c.Verify(ctx, "s")
	if err != nil || !v.OK() {
		t.Fatalf("verify: %v %v", v.Problems, err)
	}
}

// The parts a final merge wrote are checked too: a long merge writes its
// first parts well before the commit, and a janitor with too short a
// minimum age may reap them meanwhile (here, as the merge ends).
func TestAppendBatchMergedPartReaped(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c, w := rowPartsWriter(t, e)
	b := c.NewBatchBuilder("s", ts(0), 1) // every Add flushes a run
	for i := range 3 {
		if err := b.Add(ctx, up(fmt.Sprint("k", i), "", 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	reaped := 0
	b.SetMergeProgress(func(p MergeProgress) {
		// The last report comes once the merge has written its parts.
		if p.Rows == p.Total && p.Pass == p.Passes {
			e.clock.Advance(2 * time.Hour)
			rep, err := c.Janitor(ctx, "s", time.Hour)
			if err != nil {
				t.Error(err)
			}
			reaped += rep.OrphansReaped
		}
	})
	err := w.AppendBatch(ctx, b, ts(1))
	if reaped == 0 {
		t.Fatal("the janitor reaped nothing: the test did not set up the race")
	}
	if !errors.Is(err, ErrBlobMissing) || location.IsIndeterminate(err) {
		t.Fatalf("append of a reaped merged part: %v, want a determinate ErrBlobMissing", err)
	}
	st, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Batches) != 0 {
		t.Fatalf("after the failed append the state holds %d batches", len(st.Batches))
	}
}

// existsBlob is a blob whose Exists calls wait, up to a deadline, until
// together calls are inside at once. The nth call (from 0) answers as
// script[n] says: "gone" reports the key missing, "broken" fails, anything
// else asks the blob.
type existsBlob struct {
	*mem.Blob
	together int
	script   []string

	mu   sync.Mutex
	in   int
	full chan struct{}
}

func newExistsBlob(bl *mem.Blob, together int, script ...string) *existsBlob {
	return &existsBlob{Blob: bl, together: together, script: script, full: make(chan struct{})}
}

func (b *existsBlob) Exists(ctx context.Context, key string) (bool, error) {
	b.mu.Lock()
	n := b.in
	b.in++
	if b.in == b.together {
		close(b.full)
	}
	b.mu.Unlock()
	select {
	case <-b.full:
	case <-time.After(10 * time.Second):
		return false, errors.New("the existence checks never ran together")
	}
	switch {
	case n < len(b.script) && b.script[n] == "broken":
		return false, errors.New("existsBlob: transient failure")
	case n < len(b.script) && b.script[n] == "gone":
		return false, nil
	}
	return b.Blob.Exists(ctx, key)
}

func (b *existsBlob) calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.in
}

// mergedBatch builds, in a client of e writing through bl, a batch of
// shard "s" that its merge cuts into n parts, and returns its writer.
func mergedBatch(t *testing.T, e *env, bl location.Blob, n int) (*WriteHandle, *BatchBuilder) {
	t.Helper()
	ctx := context.Background()
	e.loc.Blob = bl
	c, w := rowPartsWriter(t, e)
	b := c.NewBatchBuilder("s", ts(0), 1) // every Add flushes a run
	for i := range n {
		if err := b.Add(ctx, up(fmt.Sprint("k", i), "", 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	return w, b
}

// AppendBatch checks its parts' blobs concurrently: each check is a round
// trip on an object store, and a large batch has hundreds of parts.
// Checked one at a time, the first check here waits for a second that
// never comes.
func TestAppendBatchChecksPartsConcurrently(t *testing.T) {
	e := newEnv()
	bl := newExistsBlob(e.blob, 3)
	w, b := mergedBatch(t, e, bl, 3)
	if err := w.AppendBatch(context.Background(), b, ts(1)); err != nil {
		t.Fatal(err)
	}
	if n := bl.calls(); n != 3 {
		t.Fatalf("%d existence checks, want one per part (3)", n)
	}
	want := contents{{"k0", "", 0}: 1, {"k1", "", 0}: 1, {"k2", "", 0}: 1}
	if got := batchRows(t, e.client(blobParts)); !equalContents(got, want) {
		t.Fatalf("batch %v, want %v", got, want)
	}
}

// A part found missing decides the append's error, whichever part's check
// fails and in whatever order the checks end: the batch is lost, which a
// failed check alone would not say.
func TestAppendBatchMissingPartOutranksFailedCheck(t *testing.T) {
	e := newEnv()
	bl := newExistsBlob(e.blob, 1, "broken", "gone", "")
	w, b := mergedBatch(t, e, bl, 3)
	err := w.AppendBatch(context.Background(), b, ts(1))
	if !errors.Is(err, ErrBlobMissing) || location.IsIndeterminate(err) {
		t.Fatalf("append with a part missing and a check failed: %v, want a determinate ErrBlobMissing", err)
	}
}

// Seal does before any writer is opened what AppendBatch would do before
// its commit: a sum out of the int64 range fails it, in memory or across
// runs, and Abort then leaves nothing behind. After it, Add is refused, a
// second Seal changes nothing, and Abort deletes the sealed batch's parts.
func TestBatchBuilderSeal(t *testing.T) {
	ctx := context.Background()
	for _, spilled := range []bool{false, true} {
		c := newEnv().client(ClientOptions{InlineWriteMaxBytes: -1, MergeFanIn: -1, PartTargetSize: 300})
		b := c.NewBatchBuilder("s", ts(0), 1<<20)
		if spilled {
			b = smallBuilder(c, 0)
		}
		for i := range 40 {
			if err := b.Add(ctx, up(fmt.Sprint("k", i), "", 0, 1)); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range []int64{math.MaxInt64, 1} {
			if err := b.Add(ctx, up("k0", "", 0, d)); err != nil {
				t.Fatal(err)
			}
		}
		if spilled != (len(b.runs) > 0) {
			t.Fatalf("spilled=%v: %d runs", spilled, len(b.runs))
		}
		err := b.Seal(ctx)
		var oe *DiffOverflowError
		if !errors.As(err, &oe) || !errors.Is(err, ErrInvalidUpdate) || string(oe.Key) != "k0" {
			t.Fatalf("spilled=%v: seal of an overflowing sum: %v", spilled, err)
		}
		if err2 := b.Seal(ctx); err2 != err {
			t.Fatalf("spilled=%v: second seal %v, want the first's error", spilled, err2)
		}
		b.Abort()
		noBlobsLeft(t, c, "an aborted seal")
		if ids, err := c.ListShards(ctx); err != nil || len(ids) != 0 {
			t.Fatalf("spilled=%v: shards %v %v: a seal registered one", spilled, ids, err)
		}

		b = smallBuilder(c, 0)
		for i := range 40 {
			if err := b.Add(ctx, up(fmt.Sprint("k", i), "", 0, 1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Seal(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Seal(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(ctx, up("late", "", 0, 1)); !errors.Is(err, ErrBuilderSealed) {
			t.Fatalf("add after seal: %v, want ErrBuilderSealed", err)
		}
		if n := blobCount(t, c.loc.Blob, ""); n == 0 {
			t.Fatal("the sealed batch wrote no parts")
		}
		b.Abort()
		noBlobsLeft(t, c, "an aborted sealed batch")
	}
}
