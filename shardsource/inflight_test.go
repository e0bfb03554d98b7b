package shardsource

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/shardflow/shardflow/frontier"
)

// fakeCap is a capability stand-in that names the time it was minted at.
type fakeCap struct {
	time frontier.Time
	kind string
	id   int
}

// Accessors only the tests need, to check the btree against a model.

// min returns the least time with a fetch outstanding.
func (f *inflight[T, C]) min() (T, bool) {
	e, ok := f.tree.Min()
	if !ok {
		var zero T
		return zero, false
	}
	return e.time, true
}

// times returns the number of distinct times with a fetch outstanding.
func (f *inflight[T, C]) times() int { return f.tree.Len() }

// count returns the number of fetches outstanding at t.
func (f *inflight[T, C]) count(t T) int {
	if e, ok := f.lookup(t); ok {
		return e.count
	}
	return 0
}

func TestInflightCountsPerTime(t *testing.T) {
	f := newInflight[frontier.Time, fakeCap]()
	mints := 0
	mint := func(ti frontier.Time) func() (fakeCap, fakeCap) {
		return func() (fakeCap, fakeCap) {
			mints++
			return fakeCap{ti, "data", mints}, fakeCap{ti, "completed", mints}
		}
	}
	f.add(3, mint(3))
	f.add(1, mint(1))
	f.add(3, mint(3))
	if mints != 2 {
		t.Fatalf("minted %d capability pairs, want 2 (one per time)", mints)
	}
	if m, _ := f.min(); m != 1 || f.total() != 3 || f.times() != 2 {
		t.Fatalf("min %v total %d times %d", m, f.total(), f.times())
	}
	// Time 3's results complete before time 1's: completion order is
	// irrelevant, each completion charges its own time.
	if _, _, last := f.complete(3); last {
		t.Fatal("first completion at 3 of 2 reported last")
	}
	d, c, last := f.complete(3)
	if !last || d.time != 3 || c.time != 3 || d.kind != "data" || c.kind != "completed" {
		t.Fatalf("last completion at 3: %+v %+v %v", d, c, last)
	}
	if m, _ := f.min(); m != 1 {
		t.Fatalf("min after 3 done = %v, want 1", m)
	}
	if got := f.data(1); got.time != 1 {
		t.Fatalf("data cap for 1 = %+v", got)
	}
	d, _, last = f.complete(1)
	if !last || d.time != 1 || f.total() != 0 || f.times() != 0 {
		t.Fatalf("after all complete: last %v total %d times %d", last, f.total(), f.times())
	}
	if _, ok := f.min(); ok {
		t.Fatal("min of empty table")
	}
}

func TestInflightCompleteUnknownPanics(t *testing.T) {
	f := newInflight[frontier.Time, fakeCap]()
	defer func() {
		if recover() == nil {
			t.Fatal("completing a time with nothing in flight did not panic")
		}
	}()
	f.complete(7)
}

func TestInflightDrain(t *testing.T) {
	f := newInflight[frontier.Time, fakeCap]()
	for _, ti := range []frontier.Time{5, 2, 9, 2} {
		f.add(ti, func() (fakeCap, fakeCap) { return fakeCap{time: ti}, fakeCap{time: ti} })
	}
	var got []frontier.Time
	f.drain(func(ti frontier.Time, d, c fakeCap) {
		if d.time != ti || c.time != ti {
			t.Fatalf("drain handed caps of %v for %v", d.time, ti)
		}
		got = append(got, ti)
	})
	if len(got) != 3 || got[0] != 2 || got[1] != 5 || got[2] != 9 || f.total() != 0 {
		t.Fatalf("drained %v, total %d", got, f.total())
	}
}

// TestInflightModel checks the table against a map of counts under random
// interleavings of adds and completions in any order: capabilities are
// minted exactly once per busy period of a time, and handed back exactly when
// that time's count returns to zero, always the ones minted for that time.
func TestInflightModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := newInflight[frontier.Time, fakeCap]()
		model := map[frontier.Time]int{}
		minted := map[frontier.Time]int{} // id of the live pair per time
		next := 0
		for range rapid.IntRange(0, 200).Draw(t, "ops") {
			busy := make([]frontier.Time, 0, len(model))
			for ti := range model {
				busy = append(busy, ti)
			}
			if len(busy) == 0 || rapid.Bool().Draw(t, "add") {
				ti := frontier.Time(rapid.IntRange(0, 10).Draw(t, "t"))
				f.add(ti, func() (fakeCap, fakeCap) {
					if model[ti] != 0 {
						t.Fatalf("minted again at busy time %v", ti)
					}
					next++
					minted[ti] = next
					return fakeCap{ti, "data", next}, fakeCap{ti, "completed", next}
				})
				model[ti]++
			} else {
				ti := rapid.SampledFrom(sortTimes(busy)).Draw(t, "done")
				d, c, last := f.complete(ti)
				model[ti]--
				if last != (model[ti] == 0) {
					t.Fatalf("complete(%v) last=%v with model count %d", ti, last, model[ti])
				}
				if last {
					if d.id != minted[ti] || c.id != minted[ti] || d.time != ti || c.time != ti {
						t.Fatalf("complete(%v) handed back %+v %+v, minted %d", ti, d, c, minted[ti])
					}
					delete(model, ti)
				}
			}
			total, least := 0, frontier.Time(0)
			first := true
			for ti, n := range model {
				total += n
				if first || ti < least {
					least, first = ti, false
				}
				if f.count(ti) != n {
					t.Fatalf("count(%v)=%d, model %d", ti, f.count(ti), n)
				}
			}
			if f.total() != total || f.times() != len(model) {
				t.Fatalf("total %d/%d times %d/%d", f.total(), total, f.times(), len(model))
			}
			if m, ok := f.min(); ok != !first || (ok && m != least) {
				t.Fatalf("min %v,%v want %v,%v", m, ok, least, !first)
			}
		}
	})
}

func sortTimes(ts []frontier.Time) []frontier.Time {
	slices.Sort(ts)
	return ts
}
