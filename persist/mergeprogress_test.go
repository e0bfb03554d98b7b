package persist

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
)

// checkReports checks what every merge's reports must be: passes from 1 to
// Passes in order, Runs and Passes fixed, Rows never decreasing nor past
// Total, Total fixed within a pass, and a last report with every row read,
// Rows == Total.
func checkReports(t *testing.T, reports []MergeProgress) {
	t.Helper()
	if len(reports) == 0 {
		t.Fatal("no merge progress reported")
	}
	first, last := reports[0], reports[len(reports)-1]
	if first.Pass != 1 || first.Rows != 0 || first.Runs < 1 || first.Passes < 1 {
		t.Fatalf("first report %+v, want pass 1 at row 0", first)
	}
	for i, p := range reports[1:] {
		prev := reports[i]
		switch {
		case p.Runs != prev.Runs || p.Passes != prev.Passes:
			t.Fatalf("report %d %+v after %+v: Runs or Passes changed", i+1, p, prev)
		case p.Pass != prev.Pass && p.Pass != prev.Pass+1:
			t.Fatalf("report %d %+v after %+v: skipped a pass", i+1, p, prev)
		case p.Rows < prev.Rows:
			t.Fatalf("report %d %+v after %+v: Rows went back", i+1, p, prev)
		case p.Pass == prev.Pass && p.Total != prev.Total:
			t.Fatalf("report %d %+v after %+v: Total changed within a pass", i+1, p, prev)
		}
	}
	for i, p := range reports {
		if p.Rows > p.Total {
			t.Fatalf("report %d %+v: Rows past Total", i, p)
		}
	}
	if last.Pass != last.Passes || last.Rows != last.Total {
		t.Fatalf("last report %+v, want the last pass with Rows == Total", last)
	}
}

// TestMergeProgressCountsEveryPass builds a batch of ten runs of distinct
// rows, merged three at a time: a pass merging nine runs and leaving the
// tenth alone, a second merging the three it made and again leaving the
// tenth alone, then the last merging the two left. The reports must count
// exactly the rows those passes read, and the batch must be what it is
// without reporting.
func TestMergeProgressCountsEveryPass(t *testing.T) {
	ctx := context.Background()
	const runs = 10
	row := up("k0000", "v", 0, 1)
	perRun := int((200 + bufferedSize(row) - 1) / bufferedSize(row)) // smallBuilder's buffer is 200 bytes
	var batches []contents
	for _, report := range []bool{false, true} {
		c, w := blobWriter(t)
		b := smallBuilder(c, 0)
		var reports []MergeProgress
		if report {
			b.SetMergeProgress(func(p MergeProgress) { reports = append(reports, p) })
		}
		for i := range runs * perRun {
			if err := b.Add(ctx, up(fmt.Sprintf("k%04d", (i*7919)%(runs*perRun)), "v", 0, 1)); err != nil {
				t.Fatal(err)
			}
		}
		if len(b.runs) != runs || len(b.buf) != 0 {
			t.Fatalf("%d runs and %d updates buffered, want %d runs of %d rows and none", len(b.runs), len(b.buf), runs, perRun)
		}
		if err := w.AppendBatch(ctx, b, ts(1)); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, batchRows(t, c))
		if !report {
			continue
		}
		checkReports(t, reports)
		last := reports[len(reports)-1]
		want := int64(2*(runs-1)*perRun + runs*perRun)
		if last.Runs != runs || last.Passes != 3 || last.Total != want {
			t.Fatalf("last report %+v, want %d runs, 3 passes, %d rows read", last, runs, want)
		}
		// Pass 1 reads 9 runs' rows and counts on each pass to come
		// reading all 10 runs' rows; pass 2 knows what pass 1 read, reads
		// 9 runs' rows again and counts on the last pass reading all.
		totals := map[int]int64{}
		for _, p := range reports {
			totals[p.Pass] = p.Total
		}
		if want := (map[int]int64{1: int64((runs-1)*perRun + 2*runs*perRun), 2: want, 3: want}); !maps.Equal(totals, want) {
			t.Fatalf("totals by pass %v, want %v", totals, want)
		}
		// Reports come as parts are read, not just as passes begin.
		if len(reports) < 2*last.Passes+1 {
			t.Fatalf("%d reports over %d passes: too few to show progress", len(reports), last.Passes)
		}
	}
	if !equalContents(batches[0], batches[1]) {
		t.Fatalf("batch with progress reported %v, without %v", batches[1], batches[0])
	}
}

// TestMergeProgressRandom checks the reports of merges of random updates,
// whose diffs may cancel or sum across runs.
func TestMergeProgressRandom(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	ctx := context.Background()
	for iter := range 10 {
		c, w := blobWriter(t)
		b := smallBuilder(c, 0)
		var reports []MergeProgress
		b.SetMergeProgress(func(p MergeProgress) { reports = append(reports, p) })
		want := contents{}
		for range 20 + rng.IntN(400) {
			u := up(fmt.Sprint("k", rng.IntN(50)), fmt.Sprint("v", rng.IntN(3)), frontier.Time(rng.IntN(4)), int64(rng.IntN(5)-2))
			want.add(string(u.Key), string(u.Val), u.Time, u.Diff)
			if err := b.Add(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		runs := len(b.runs)
		if err := w.AppendBatch(ctx, b, ts(4)); err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		if got := batchRows(t, c); !equalContents(got, want) {
			t.Fatalf("iteration %d: batch %v, want %v", iter, got, want)
		}
		if runs < 2 {
			continue // perhaps no merge, and then no report
		}
		checkReports(t, reports)
		if last := reports[len(reports)-1]; last.Runs < runs {
			t.Fatalf("iteration %d: %d runs reported, want at least the %d written before the append", iter, last.Runs, runs)
		}
	}
}

// TestMergeProgressNotWithoutMerge checks that nothing is reported when
// there is nothing to merge: every update fit in the buffer, or the buffer
// filled exactly once, writing a single run that is the batch.
func TestMergeProgressNotWithoutMerge(t *testing.T) {
	ctx := context.Background()
	us := []Update{up("b", "", 1, 1), up("a", "", 0, 2), up("c", "", 1, 1)}
	size := int64(0)
	for _, u := range us {
		size += bufferedSize(u)
	}
	for _, buffer := range []int64{0, size} {
		c, w := blobWriter(t)
		b := c.NewBatchBuilder("s", ts(0), buffer)
		b.SetMergeProgress(func(p MergeProgress) {
			t.Errorf("buffer %d: merge progress %+v reported with nothing to merge", buffer, p)
		})
		for _, u := range us {
			if err := b.Add(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		if wantRuns := int(buffer / size); len(b.runs) != wantRuns {
			t.Fatalf("buffer %d: %d runs, want %d", buffer, len(b.runs), wantRuns)
		}
		if err := w.AppendBatch(ctx, b, ts(2)); err != nil {
			t.Fatal(err)
		}
		if got := batchRows(t, c); len(got) != len(us) {
			t.Fatalf("buffer %d: batch %v", buffer, got)
		}
	}
}
