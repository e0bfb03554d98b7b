package persist

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
)

// TestSortUpdatesAsSortFunc checks sortUpdates against slices.SortFunc on
// keys built to defeat the prefix: short keys, zero bytes, long shared
// prefixes, equal keys differing in val and time.
func TestSortUpdatesAsSortFunc(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	alphabet := []byte{0, 1, 'a', 0xff}
	randBytes := func(max int) []byte {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	for iter := range 50 {
		n := 256 + rng.IntN(2000)
		us := make([]Update, n)
		for i := range us {
			k := randBytes(12)
			// Every other iteration, every key shares a prefix, some
			// keys are just that prefix.
			if iter%2 == 0 || rng.IntN(2) == 0 {
				k = append([]byte("shared-prefix"), k...)
			}
			us[i] = Update{Key: k, Val: randBytes(2), Time: frontier.Time(rng.IntN(3)), Diff: int64(i)}
		}
		want := slices.Clone(us)
		slices.SortStableFunc(want, compareUpdates)
		got := slices.Clone(us)
		sortUpdates(got)
		for i := range got {
			if compareUpdates(got[i], want[i]) != 0 {
				t.Fatalf("iteration %d: row %d is %q/%q@%d, want %q/%q@%d", iter, i, got[i].Key, got[i].Val, got[i].Time, want[i].Key, want[i].Val, want[i].Time)
			}
		}
		// A permutation: every update is there once (diffs are indexes).
		seen := make([]bool, n)
		for _, u := range got {
			if seen[u.Diff] {
				t.Fatalf("iteration %d: update %d twice", iter, u.Diff)
			}
			seen[u.Diff] = true
		}
	}
}

// BenchmarkSortUpdates sorts 1M updates with sortUpdates and with
// slices.SortFunc: random 16-byte keys, then keys as write stores JSON
// strings, a quote and a name in common.
func BenchmarkSortUpdates(b *testing.B) {
	us := benchUpdates(rand.New(rand.NewPCG(5, 6)), 1_000_000, 0, 10)
	work := make([]Update, len(us))
	run := func(keys string) {
		b.Run("prefix"+keys, func(b *testing.B) {
			for b.Loop() {
				copy(work, us)
				sortUpdates(work)
			}
		})
		b.Run("SortFunc"+keys, func(b *testing.B) {
			for b.Loop() {
				copy(work, us)
				slices.SortFunc(work, compareUpdates)
			}
		})
	}
	run("")
	for i := range us {
		us[i].Key = fmt.Appendf(nil, `"user-%08d"`, rand.IntN(100_000_000))
	}
	run("/shared")
}
