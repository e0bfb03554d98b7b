package frontier

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

var sprintf = fmt.Sprintf

func genTime(max uint64) *rapid.Generator[Time] {
	return rapid.Custom(func(t *rapid.T) Time { return Time(rapid.Uint64Max(max).Draw(t, "t")) })
}

func genPair(max uint64) *rapid.Generator[pair] {
	return rapid.Custom(func(t *rapid.T) pair {
		return NewProduct(Time(rapid.Uint64Max(max).Draw(t, "outer")), Time(rapid.Uint64Max(max).Draw(t, "inner")))
	})
}

func genUpdates[T Timestamp[T]](times *rapid.Generator[T]) *rapid.Generator[[]Update[T]] {
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Update[T] {
		return Update[T]{times.Draw(t, "time"), rapid.Int64Range(-2, 2).Draw(t, "diff")}
	}), 0, 6)
}

func TestMutableAntichainMatchesModelTime(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		chunks := rapid.SliceOfN(genUpdates(genTime(8)), 1, 40).Draw(t, "chunks")
		if msg, ok := checkMutable(chunks); !ok {
			t.Fatal(msg)
		}
	})
}

func TestMutableAntichainMatchesModelProduct(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		chunks := rapid.SliceOfN(genUpdates(genPair(4)), 1, 40).Draw(t, "chunks")
		if msg, ok := checkMutable(chunks); !ok {
			t.Fatal(msg)
		}
	})
}

// Progress tracking mostly sees balanced streams: each time added once and
// later retracted, with retractions sometimes arriving first.
func TestMutableAntichainBalancedReordered(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		times := rapid.SliceOfN(genPair(5), 1, 30).Draw(t, "times")
		var ups []Update[pair]
		for _, tm := range times {
			ups = append(ups, Update[pair]{tm, 1}, Update[pair]{tm, -1})
		}
		perm := rapid.Permutation(ups).Draw(t, "order")
		var chunks [][]Update[pair]
		for len(perm) > 0 {
			n := min(len(perm), rapid.IntRange(1, 3).Draw(t, "n"))
			chunks = append(chunks, perm[:n])
			perm = perm[n:]
		}
		if msg, ok := checkMutable(chunks); !ok {
			t.Fatal(msg)
		}
		var m MutableAntichain[pair]
		for _, c := range chunks {
			m.UpdateIter(c)
		}
		if !m.IsEmpty() {
			t.Fatalf("balanced updates leave frontier %v", m.Frontier())
		}
	})
}

func TestChangeBatchMatchesSumModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var cb ChangeBatch[pair]
		var all []Update[pair]
		steps := rapid.IntRange(1, 20).Draw(t, "steps")
		for range steps {
			ups := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Update[pair] {
				return Update[pair]{genPair(3).Draw(t, "time"), rapid.Int64Range(-3, 3).Draw(t, "diff")}
			}), 0, 50).Draw(t, "updates")
			if rapid.Bool().Draw(t, "one-by-one") {
				for _, u := range ups {
					cb.Update(u.Time, u.Diff)
				}
			} else {
				cb.Extend(ups...)
			}
			all = append(all, ups...)
			want := sumModel(all)
			if got := cb.Updates(); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("consolidated %v, model %v", got, want)
			}
			if cb.IsEmpty() != (len(want) == 0) {
				t.Fatalf("IsEmpty %v with model %v", cb.IsEmpty(), want)
			}
		}
		var other ChangeBatch[pair]
		other.Update(NewProduct[Time, Time](9, 9), 1)
		cb.DrainInto(&other)
		want := sumModel(append(all, Update[pair]{NewProduct[Time, Time](9, 9), 1}))
		if got := other.Updates(); !slices.Equal(got, want) {
			t.Fatalf("DrainInto: %v, want %v", got, want)
		}
		if !cb.IsEmpty() {
			t.Fatalf("drained batch not empty: %v", cb.Updates())
		}
	})
}

func TestAntichainMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := rapid.SliceOf(genPair(4)).Draw(t, "a")
		b := rapid.SliceOf(genPair(4)).Draw(t, "b")
		A, B := NewAntichain(a...), NewAntichain(b...)
		set := func(ts []pair) map[pair]int64 {
			m := map[pair]int64{}
			for _, t := range ts {
				m[t] = 1
			}
			return m
		}
		if want := minimalPositive(set(a)); !slices.Equal(A.Elements(), want) {
			t.Fatalf("NewAntichain(%v) = %v, want %v", a, A, want)
		}
		if want := minimalPositive(set(append(slices.Clone(a), b...))); !slices.Equal(Meet(A, B).Elements(), want) {
			t.Fatalf("Meet(%v, %v) = %v, want %v", A, B, Meet(A, B), want)
		}
		var joins []pair
		for _, x := range A.Elements() {
			for _, y := range B.Elements() {
				joins = append(joins, x.Join(y))
			}
		}
		if want := minimalPositive(set(joins)); !slices.Equal(Join(A, B).Elements(), want) {
			t.Fatalf("Join(%v, %v) = %v, want %v", A, B, Join(A, B), want)
		}
		// A <= B iff every time B admits, A admits too.
		for o := range Time(5) {
			for i := range Time(5) {
				p := NewProduct(o, i)
				if LessEqual(A, B) && B.LessEqual(p) && !A.LessEqual(p) {
					t.Fatalf("%v <= %v but %v admits %v and %v does not", A, B, B, p, A)
				}
			}
		}
		model := true
		for _, y := range B.Elements() {
			if !A.LessEqual(y) {
				model = false
			}
		}
		if LessEqual(A, B) != model {
			t.Fatalf("LessEqual(%v, %v) = %v, want %v", A, B, !model, model)
		}
		if !LessEqual(Meet(A, B), A) || !LessEqual(Meet(A, B), B) || !LessEqual(A, Join(A, B)) || !LessEqual(B, Join(A, B)) {
			t.Fatalf("meet/join bounds fail for %v, %v", A, B)
		}
	})
}
