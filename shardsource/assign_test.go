package shardsource

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// Parts alternating large and small must not all pile their large halves
// onto one worker, which is exactly what round-robin does with two workers.
func TestAssignAlternatingSizes(t *testing.T) {
	a := newAssigner(2)
	const large, small = 1 << 20, 1 << 10
	for i := range 100 {
		size := uint64(small)
		if i%2 == 0 {
			size = large
		}
		a.assign(size)
	}
	lo, hi := slices.Min(a.load), slices.Max(a.load)
	if hi-lo > large {
		t.Fatalf("loads %v: spread %d exceeds the largest part %d", a.load, hi-lo, large)
	}
	if float64(hi)/float64(lo) > 1.05 {
		t.Fatalf("loads %v: imbalance %.2f", a.load, float64(hi)/float64(lo))
	}
}

func TestAssignEqualSizesRoundRobin(t *testing.T) {
	a := newAssigner(3)
	var got []int
	for range 6 {
		got = append(got, a.assign(0))
	}
	if !slices.Equal(got, []int{0, 1, 2, 0, 1, 2}) {
		t.Fatalf("equal parts went to %v", got)
	}
}

// The greedy bound: after any sequence, the most loaded worker carries at
// most one largest part more than the least loaded.
func TestAssignSpreadBound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		workers := rapid.IntRange(1, 8).Draw(t, "workers")
		a := newAssigner(workers)
		var largest uint64 = 1
		for _, s := range rapid.SliceOf(rapid.Uint64Range(0, 1<<30)).Draw(t, "sizes") {
			w := a.assign(s)
			if w < 0 || w >= workers {
				t.Fatalf("assigned worker %d of %d", w, workers)
			}
			largest = max(largest, s)
			if hi, lo := slices.Max(a.load), slices.Min(a.load); hi-lo > largest {
				t.Fatalf("loads %v spread beyond largest part %d", a.load, largest)
			}
		}
	})
}
