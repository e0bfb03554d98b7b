package persist

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
	"github.com/shardflow/shardflow/persist/internal/state"
)

// TestMergeWritesAsItGoes checks that a merge holds no more than a part's
// worth of output rows before writing them: its memory is bounded by the
// target size, not by the batch.
func TestMergeWritesAsItGoes(t *testing.T) {
	ctx := context.Background()
	c, _ := blobWriter(t)
	b := smallBuilder(c, 0)
	defer b.Abort()
	for i := range 300 {
		if err := b.Add(ctx, up(fmt.Sprintf("k%03d", i), "v", 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	const target = 300
	m := &runMerge{c: c, shard: "s", spec: mergeSpec{id: "t", target: target, exact: true}}
	defer m.release()
	out, err := m.merge(ctx, b.runs)
	if err != nil {
		t.Fatal(err)
	}
	defer deleteParts(c, out.parts)
	row := bufferedSize(up("k000", "v", 0, 1))
	if m.peak > target+row {
		t.Fatalf("the merge held %d bytes of rows at once, want at most %d", m.peak, target+row)
	}
	if len(out.parts) < 300*int(row)/(target+int(row)) {
		t.Fatalf("%d parts out, want one per %d bytes", len(out.parts), target)
	}
}

// TestMergeRunsAdvancesToSince merges random runs as compaction does,
// advancing times to a since, and checks the result against consolidating
// every row in memory.
func TestMergeRunsAdvancesToSince(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	ctx := context.Background()
	c, _ := blobWriter(t)
	for iter := range 10 {
		since := frontier.Time(rng.IntN(6))
		var runs []run
		var all []Update
		for range 1 + rng.IntN(6) {
			var us []Update
			for range rng.IntN(60) {
				us = append(us, up(fmt.Sprint("k", rng.IntN(20)), "", frontier.Time(rng.IntN(8)), int64(rng.IntN(5)-2)))
			}
			us = mustConsolidate(t, us)
			for _, u := range us {
				u.Time = max(u.Time, since)
				all = append(all, u)
			}
			parts, err := writeParts(ctx, c, "s", "t", us, -1, 100) // several parts a run
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, run{parts: parts})
		}
		res, err := mergeRuns(ctx, c, "s", runs, mergeSpec{id: "t", target: 200, exact: true, since: since})
		if err != nil {
			t.Fatal(err)
		}
		want := mustConsolidate(t, all)
		var got []Update
		for _, p := range res.parts {
			d, err := c.fetchDecoded(ctx, "s", partDesc(p, state.Batch{}), "")
			if err != nil {
				t.Fatal(err)
			}
			for i := range d.Len() {
				u := rowAt(d, i, 0)
				got = append(got, Update{Key: bytes.Clone(u.Key), Val: bytes.Clone(u.Val), Time: u.Time, Diff: u.Diff})
			}
			d.Release()
		}
		if !slices.EqualFunc(got, want, func(a, b Update) bool { return compareUpdates(a, b) == 0 && a.Diff == b.Diff }) {
			t.Fatalf("iteration %d, since %d: merged %v, want %v", iter, since, got, want)
		}
		if res.rowsOut != int64(len(want)) {
			t.Fatalf("iteration %d: rowsOut %d, want %d", iter, res.rowsOut, len(want))
		}
		for _, r := range runs {
			deleteParts(c, r.parts)
		}
		deleteParts(c, res.parts)
	}
}

// TestMergeRunsRefusesPartsOutOfOrder checks that a run whose parts are
// not in order fails the merge rather than write unsorted parts.
func TestMergeRunsRefusesPartsOutOfOrder(t *testing.T) {
	ctx := context.Background()
	c, _ := blobWriter(t)
	var us []Update
	for i := range 40 {
		us = append(us, up(fmt.Sprintf("k%02d", i), "", 0, 1))
	}
	parts, err := writeParts(ctx, c, "s", "t", us, -1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("%d parts: the test needs several", len(parts))
	}
	slices.Reverse(parts)
	_, err = mergeRuns(ctx, c, "s", []run{{parts: parts}}, mergeSpec{id: "t", target: 1 << 20, exact: true})
	if err == nil || !strings.Contains(err.Error(), "not one sorted run") {
		t.Fatalf("merge of a run with its parts reversed: %v", err)
	}
	if n := blobCount(t, c.loc.Blob, ""); n != len(parts) {
		t.Fatalf("%d blobs after the failed merge, want the run's %d", n, len(parts))
	}
}
