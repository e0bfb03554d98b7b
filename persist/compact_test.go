package persist

import (
	"context"
	"testing"
)

// TestCompactSingleBatch checks that a batch alone behind the since is
// rewritten when its rows merge there, and left alone when none would.
func TestCompactSingleBatch(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		updates []Update
		merged  int
		rows    int64
	}{
		{"one key at two times", []Update{up("a", "", 0, 1), up("a", "", 1, 1), up("b", "", 1, 1)}, 1, 2},
		{"distinct keys", []Update{up("a", "", 0, 1), up("b", "", 1, 1)}, 0, 0},
		{"one time", []Update{up("a", "", 1, 1), up("a", "x", 1, 1)}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, w := blobWriter(t)
			if err := w.CompareAndAppend(ctx, tc.updates, ts(0), ts(2)); err != nil {
				t.Fatal(err)
			}
			// A second batch keeps the upper past the since.
			if err := w.CompareAndAppend(ctx, []Update{up("c", "", 2, 1)}, ts(2), ts(3)); err != nil {
				t.Fatal(err)
			}
			r, err := c.OpenReader(ctx, "s", "reader")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Expire(ctx)
			if err := r.DowngradeSince(ctx, ts(2)); err != nil {
				t.Fatal(err)
			}
			before := snapshotContents(t, c, r, 2)
			rep, err := c.Compact(ctx, "s")
			if err != nil {
				t.Fatal(err)
			}
			if rep.BatchesMerged != tc.merged || rep.RowsOut != tc.rows {
				t.Fatalf("compaction %+v, want %d batches merged into %d rows", rep, tc.merged, tc.rows)
			}
			if after := snapshotContents(t, c, r, 2); !equalContents(after, before) {
				t.Fatalf("snapshot at the since %v after compaction, %v before", after, before)
			}
		})
	}
}
