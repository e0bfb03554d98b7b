package persist

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/shardflow/shardflow/frontier"
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

// CheckSince finds the (key, val) whose diffs, each batch's own sum within
// range, sum out of it once their times up to t are advanced to t: none
// before the batches that overflow together, the first such (key, val)
// from then on. It reads batches of several parts and changes nothing.
func TestCheckSince(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c, w := rowPartsWriter(t, e)
	for i, us := range [][]Update{
		{up("a", "", 0, 1), up("b", "", 0, math.MaxInt64)},
		{up("a", "", 1, 1), up("c", "", 1, math.MinInt64)},
		{up("b", "", 2, 1), up("c", "", 2, -1), up("d", "", 2, 1)},
		{up("z", "", 3, 1)},
	} {
		lo := frontier.Time(i)
		if err := w.CompareAndAppend(ctx, us, ts(lo), ts(lo+1)); err != nil {
			t.Fatal(err)
		}
	}
	before, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at    frontier.Time
		key   string // "" for no overflow
		above bool
	}{{0, "", false}, {1, "", false}, {2, "b", true}, {3, "b", true}} {
		err := c.CheckSince(ctx, "s", tc.at, nil)
		var oe *DiffOverflowError
		var se *SinceCheckError
		switch {
		case tc.key == "" && err != nil:
			t.Errorf("at %d: %v, want no overflow", tc.at, err)
		case tc.key != "" && (!errors.As(err, &oe) || string(oe.Key) != tc.key || oe.Time != tc.at || oe.Above != tc.above):
			t.Errorf("at %d: %v, want key %q overflowing at %d", tc.at, err, tc.key, tc.at)
		case tc.key != "" && (!errors.As(err, &se) || !se.Read || se.Since != tc.at):
			t.Errorf("at %d: %v, want a read's overflow", tc.at, err)
		}
	}
	after, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if after.SeqNo != before.SeqNo {
		t.Fatalf("CheckSince changed the state: seqno %d, was %d", after.SeqNo, before.SeqNo)
	}
}

// CheckSince reads no part whose rows all lie beyond the since checked: a
// read at t takes no row after t, and a batch holding such a part is not
// wholly behind t. Here that part's blob is gone, so reading it would fail.
func TestCheckSinceSkipsPartsBeyondIt(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c, w := rowPartsWriter(t, e)
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 1, 1), up("b", "", 8, 1)}, ts(0), ts(10)); err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	var beyond string
	for _, p := range st.Batches[0].Parts {
		if p.MinTime == 8 {
			beyond = p.Key
		}
	}
	if len(st.Batches[0].Parts) != 2 || beyond == "" {
		t.Fatalf("parts %+v, want one at 1 and one at 8", st.Batches[0].Parts)
	}
	if _, err := e.blob.Delete(ctx, beyond); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSince(ctx, "s", 5, nil); err != nil {
		t.Fatalf("CheckSince at 5: %v, want nil: nothing after 5 is read", err)
	}
	var missing *BlobMissingError
	if err := c.CheckSince(ctx, "s", 8, nil); !errors.As(err, &missing) || missing.Key != beyond {
		t.Fatalf("CheckSince at 8: %v, want the missing blob %s", err, beyond)
	}
}

// The compaction a since allows merges only the batches wholly behind it,
// leaving out the rows of the batch holding the since itself: CheckSince
// refuses a since whose read fits but whose compaction would overflow,
// and says which. It passed such a since, and the compaction after it
// failed for ever.
func TestCheckSinceCompactionOverflow(t *testing.T) {
	ctx := context.Background()
	c, w := blobWriter(t)
	for i, d := range []int64{math.MaxInt64, math.MaxInt64, -math.MaxInt64} {
		lo := frontier.Time(i)
		if err := w.CompareAndAppend(ctx, []Update{up("a", "", lo, d)}, ts(lo), ts(lo+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.CompareAndAppend(ctx, []Update{up("c", "", 3, 1)}, ts(3), ts(4)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   frontier.Time
		fits bool
		read bool
	}{{0, true, false}, {1, false, true}, {2, false, false}, {3, true, false}} {
		err := c.CheckSince(ctx, "s", tc.at, nil)
		var se *SinceCheckError
		switch {
		case tc.fits && err != nil:
			t.Errorf("at %d: %v, want no overflow", tc.at, err)
		case !tc.fits && (!errors.As(err, &se) || se.Read != tc.read || !errors.Is(err, ErrDiffOverflow)):
			t.Errorf("at %d: %v, want an overflow (in a read: %v)", tc.at, err, tc.read)
		}
	}
	// What CheckSince(3) passed, a compaction at 3 does.
	r, err := c.OpenReader(ctx, "s", "r")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.DowngradeSince(ctx, ts(3)); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.Compact(ctx, "s"); err != nil || rep.BatchesMerged != 3 {
		t.Fatalf("compaction at 3: %+v %v", rep, err)
	}
}
