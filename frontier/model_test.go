package frontier

import (
	"maps"
	"slices"
)

// The brute-force models the property and fuzz tests compare against.

type pair = Product[Time, Time]

// minimalPositive recomputes a frontier from scratch: the minimal elements of
// the times whose count is positive, sorted by Compare.
func minimalPositive[T Timestamp[T]](counts map[T]int64) []T {
	var out []T
	for t, c := range counts {
		if c <= 0 {
			continue
		}
		minimal := true
		for u, d := range counts {
			if d > 0 && u != t && u.LessEqual(t) {
				minimal = false
				break
			}
		}
		if minimal {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, T.Compare)
	return out
}

// applyChanges applies frontier changes to a frontier, as a multiset, and
// returns the times with count one; it fails the check if any count is not
// zero or one.
func applyChanges[T Timestamp[T]](prev []T, changes []Update[T]) ([]T, bool) {
	counts := map[T]int64{}
	for _, t := range prev {
		counts[t]++
	}
	for _, c := range changes {
		counts[c.Time] += c.Diff
	}
	var out []T
	for t, c := range counts {
		switch c {
		case 0:
		case 1:
			out = append(out, t)
		default:
			return nil, false
		}
	}
	slices.SortFunc(out, T.Compare)
	return out, true
}

// sumModel consolidates updates with a map: the model of ChangeBatch.
func sumModel[T Timestamp[T]](updates []Update[T]) []Update[T] {
	sums := map[T]int64{}
	for _, u := range updates {
		sums[u.Time] += u.Diff
	}
	var out []Update[T]
	for _, t := range slices.SortedFunc(maps.Keys(sums), T.Compare) {
		if sums[t] != 0 {
			out = append(out, Update[T]{t, sums[t]})
		}
	}
	return out
}

// checkMutable applies updates to m in chunks and to a map model, comparing
// after each chunk. It returns a description of the first disagreement.
func checkMutable[T Timestamp[T]](chunks [][]Update[T]) (string, bool) {
	var m MutableAntichain[T]
	model := map[T]int64{}
	prev := []T(nil)
	for i, chunk := range chunks {
		changes := slices.Clone(m.UpdateIter(chunk))
		for _, u := range chunk {
			model[u.Time] += u.Diff
		}
		want := minimalPositive(model)
		got := slices.Clone(m.Frontier().Elements())
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			return sprintf("chunk %d %v: frontier %v, model %v", i, chunk, got, want), false
		}
		applied, ok := applyChanges(prev, changes)
		if !ok || !slices.Equal(applied, want) && !(len(applied) == 0 && len(want) == 0) {
			return sprintf("chunk %d %v: changes %v applied to %v give %v, want %v", i, chunk, changes, prev, applied, want), false
		}
		for _, c := range changes {
			if c.Diff != 1 && c.Diff != -1 {
				return sprintf("chunk %d: change %v is not +-1", i, c), false
			}
		}
		prev = want
	}
	return "", true
}
