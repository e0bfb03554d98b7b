package persist

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/shardflow/shardflow/frontier"
)

// Diffs that sum out of the int64 range are never stored or served as a
// wrapped sum: the append, the compaction or the snapshot fetch that would
// sum them fails with ErrDiffOverflow.

func TestAppendRefusesDiffOverflow(t *testing.T) {
	ctx := context.Background()
	c := newEnv().client(blobParts)
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	for _, diffs := range [][2]int64{{math.MaxInt64, 1}, {math.MinInt64, -1}, {math.MaxInt64, math.MaxInt64}} {
		err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, diffs[0]), up("a", "", 0, diffs[1])}, ts(0), ts(1))
		if !errors.Is(err, ErrInvalidUpdate) || !errors.Is(err, ErrDiffOverflow) {
			t.Fatalf("append of diffs %v: %v, want ErrInvalidUpdate and ErrDiffOverflow", diffs, err)
		}
	}
	if u, err := w.FetchUpper(ctx); err != nil || !u.LessEqual(0) || u.LessThan(0) {
		t.Fatalf("upper %v (%v) after refused appends, want [0]", u, err)
	}
	// At the edge of the range the sum fits.
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, math.MaxInt64), up("a", "", 0, -1), up("a", "", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
}

// Two batches whose rows would merge at the since into one out-of-range
// row stay unmerged, and both are still read as written.
func TestCompactionLeavesOverflowingBatchesUnmerged(t *testing.T) {
	ctx := context.Background()
	c := newEnv().client(blobParts)
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	// Batches [0,1) and [1,2) lie behind the since, 2; [2,3) keeps the
	// upper past it, so that the snapshot at the since can be read.
	for i := range frontier.Time(3) {
		u := up("a", "", i, math.MaxInt64)
		if i == 2 {
			u = up("b", "", i, 1)
		}
		if err := w.CompareAndAppend(ctx, []Update{u}, ts(i), ts(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.OpenReader(ctx, "s", "since mover")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.DowngradeSince(ctx, ts(2)); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Compact(ctx, "s")
	if !errors.Is(err, ErrDiffOverflow) || rep.BatchesMerged != 0 {
		t.Fatalf("compaction: %+v, %v; want ErrDiffOverflow and nothing merged", rep, err)
	}
	st, err := c.State(ctx, "s")
	if err != nil || len(st.Batches) != 3 {
		t.Fatalf("%d batches (%v) after the refused compaction, want 3", len(st.Batches), err)
	}
	// A snapshot at the since reads a's two rows, one per part, unsummed,
	// and b's.
	defer r.Expire(ctx)
	parts, err := r.Snapshot(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for _, p := range parts {
		f, err := c.FetchLeased(ctx, p)
		p.Lease.Release()
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Len() {
			want := int64(math.MaxInt64)
			if string(f.Key(i)) == "b" {
				want = 1
			}
			if f.Diff(i) != want || f.Time(i) != 2 {
				t.Errorf("row %q at %d with diff %d, want diff %d at 2", f.Key(i), f.Time(i), f.Diff(i), want)
			}
			rows[string(f.Key(i))]++
		}
		f.Release()
	}
	if rows["a"] != 2 || rows["b"] != 1 {
		t.Fatalf("rows by key %v in the snapshot, want a:2 b:1", rows)
	}
}

// A snapshot read of one part whose rows of one (key, val) would merge at
// as_of out of range fails; a listen read of it, which merges nothing,
// does not.
func TestSnapshotFetchRefusesDiffOverflow(t *testing.T) {
	ctx := context.Background()
	c := newEnv().client(blobParts)
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, math.MaxInt64), up("a", "", 1, 1)}, ts(0), ts(2)); err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenReader(ctx, "s", "reader")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Expire(ctx)
	parts, err := r.Snapshot(ctx, 1)
	if err != nil || len(parts) != 1 {
		t.Fatalf("snapshot: %d parts, %v", len(parts), err)
	}
	if f, err := c.FetchLeased(ctx, parts[0]); !errors.Is(err, ErrDiffOverflow) {
		if f != nil {
			f.Release()
		}
		t.Fatalf("snapshot fetch: %v, want ErrDiffOverflow", err)
	}
	listen := parts[0]
	listen.Filter = FetchFilter{Mode: ListenRead, AsOf: 0, Lower: ts(0)}
	got, err := fetchAll(ctx, c, []LeasedPart{listen})
	if want := (contents{{"a", "", 1}: 1}); err != nil || !equalContents(got, want) {
		t.Fatalf("listen fetch: %v (%v), want %v", got, err, want)
	}
	for _, p := range parts {
		p.Lease.Release()
	}
}
