package persist

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/shardflow/shardflow/frontier"
)

// Diffs that sum out of the int64 range are never stored or served as a
// wrapped sum: the append or the compaction that would sum them fails with
// ErrDiffOverflow, and a snapshot fetch keeps them apart.

func TestAppendRefusesDiffOverflow(t *testing.T) {
	ctx := context.Background()
	c, w := blobWriter(t)
	for _, diffs := range [][2]int64{{math.MaxInt64, 1}, {math.MinInt64, -1}, {math.MaxInt64, math.MaxInt64}} {
		err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, diffs[0]), up("a", "", 0, diffs[1])}, ts(0), ts(1))
		var oe *DiffOverflowError
		if !errors.Is(err, ErrInvalidUpdate) || !errors.As(err, &oe) || !errors.Is(err, ErrDiffOverflow) {
			t.Fatalf("append of diffs %v: %v, want ErrInvalidUpdate and a *DiffOverflowError", diffs, err)
		}
		if string(oe.Key) != "a" || oe.Time != 0 || oe.Above != (diffs[0] > 0) {
			t.Fatalf("append of diffs %v: %+v, want key a at 0, above %v", diffs, oe, diffs[0] > 0)
		}
	}
	if u, err := w.FetchUpper(ctx); err != nil || !u.LessEqual(0) || u.LessThan(0) {
		t.Fatalf("upper %v (%v) after refused appends, want [0]", u, err)
	}
	// A sum in range is kept, even when a partial sum was not.
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, math.MaxInt64), up("a", "", 0, math.MaxInt64), up("a", "", 0, -math.MaxInt64)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenReader(ctx, "s", "reader")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Expire(ctx)
	if got, want := snapshotContents(t, c, r, 0), (contents{{"a", "", 0}: math.MaxInt64}); !equalContents(got, want) {
		t.Fatalf("snapshot %v, want %v", got, want)
	}
}

// Two batches whose rows would merge at the since into one out-of-range
// row stay unmerged, and both are still read as written.
func TestCompactionLeavesOverflowingBatchesUnmerged(t *testing.T) {
	ctx := context.Background()
	c, w := blobWriter(t)
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
// as_of out of range keeps them as several rows, whose diffs sum to theirs,
// instead of one wrapped row; a consumer summing across parts (as it must:
// a part is consolidated on its own) gets the true sum.
func TestSnapshotFetchKeepsOverflowingRowsApart(t *testing.T) {
	ctx := context.Background()
	c, w := blobWriter(t)
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, math.MaxInt64), up("a", "", 1, math.MaxInt64), up("b", "", 1, 1)}, ts(0), ts(2)); err != nil {
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
	f, err := c.FetchLeased(ctx, parts[0])
	parts[0].Lease.Release()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range f.Len() {
		got = append(got, fmt.Sprintf("%s@%d:%d", f.Key(i), f.Time(i), f.Diff(i)))
	}
	f.Release()
	want := []string{"a@1:9223372036854775807", "a@1:9223372036854775807", "b@1:1"}
	if !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	// A later batch that brings a's sum back in range: summed across the
	// parts, the snapshot is exact.
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 2, -math.MaxInt64)}, ts(2), ts(3)); err != nil {
		t.Fatal(err)
	}
	if got, want := snapshotContents(t, c, r, 2), (contents{{"a", "", 2}: math.MaxInt64, {"b", "", 2}: 1}); !equalContents(got, want) {
		t.Fatalf("snapshot at 2: %v, want %v", got, want)
	}
}

// blobWriter returns a client writing parts as blobs and a writer of its
// shard "s".
func blobWriter(t *testing.T) (*Client, *WriteHandle) {
	t.Helper()
	return writerOf(t, newEnv().client(blobParts))
}

// rowPartsWriter returns a client of e that writes a part a row (so that
// merges and cursors cross parts), and a writer of shard "s".
func rowPartsWriter(t *testing.T, e *env) (*Client, *WriteHandle) {
	t.Helper()
	opts := blobParts
	opts.PartTargetSize = 1
	return writerOf(t, e.client(opts))
}

func writerOf(t *testing.T, c *Client) (*Client, *WriteHandle) {
	t.Helper()
	w, err := c.OpenWriter(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}
