package shardsource

import (
	"fmt"

	"github.com/google/btree"

	"github.com/shardflow/shardflow/frontier"
)

// inflight counts the fetches outstanding at each time.
//
// For each time it holds two capabilities, minted when the first desc at
// that time arrives (fetched or, in a frozen source, only held): the data
// capability, at which every result of that time is emitted, and the
// completed-fetches capability, which holds back the feedback edge and so
// the release of the leases parked at that time. Both are handed back when
// the time's count reaches zero, and only then.
//
// Results may complete in any order; counting per time (rather than matching
// results to capabilities in arrival order) is what keeps a result from ever
// being emitted at, or releasing, another part's capability. A time whose
// fetch failed is simply never completed, so its capabilities, and with them
// the output frontier, stay where they are.
//
// Times are ordered by Compare, the total order that extends the partial
// order; the table is a map keyed by time, not a frontier.
type inflight[T frontier.Timestamp[T], C any] struct {
	tree *btree.BTreeG[*flight[T, C]]
	// outstanding is the sum of every entry's count.
	outstanding int
	probe       flight[T, C] // reused key for lookups
}

type flight[T frontier.Timestamp[T], C any] struct {
	time            T
	data, completed C
	count           int // > 0 while the entry is in the tree
}

func newInflight[T frontier.Timestamp[T], C any]() *inflight[T, C] {
	return &inflight[T, C]{
		tree: btree.NewG(8, func(a, b *flight[T, C]) bool { return a.time.Compare(b.time) < 0 }),
	}
}

func (f *inflight[T, C]) lookup(t T) (*flight[T, C], bool) {
	f.probe.time = t
	e, ok := f.tree.Get(&f.probe)
	var zero T
	f.probe.time = zero
	return e, ok
}

// add records one more fetch outstanding at t. If t has none yet, mint is
// called once to obtain its data and completed-fetches capabilities.
func (f *inflight[T, C]) add(t T, mint func() (data, completed C)) {
	if e, ok := f.lookup(t); ok {
		e.count++
	} else {
		data, completed := mint()
		f.tree.ReplaceOrInsert(&flight[T, C]{time: t, data: data, completed: completed, count: 1})
	}
	f.outstanding++
}

// data returns the data capability of time t, which must have a fetch
// outstanding.
func (f *inflight[T, C]) data(t T) C {
	e, ok := f.lookup(t)
	if !ok {
		panic(fmt.Sprintf("shardsource: result at time %v with no fetch in flight", t))
	}
	return e.data
}

// complete records that one fetch at t finished. When it was the last one at
// t, the entry is removed and its capabilities are returned for the caller
// to drop (last is true). A completion at a time with nothing in flight is a
// broken invariant and panics.
func (f *inflight[T, C]) complete(t T) (data, completed C, last bool) {
	e, ok := f.lookup(t)
	if !ok {
		panic(fmt.Sprintf("shardsource: completion at time %v with no fetch in flight", t))
	}
	e.count--
	f.outstanding--
	if e.count > 0 {
		return data, completed, false
	}
	f.tree.Delete(e)
	return e.data, e.completed, true
}

// total returns the number of fetches outstanding.
func (f *inflight[T, C]) total() int { return f.outstanding }

// drain removes every entry in time order, handing each time's capabilities
// to fn. Shutdown uses it once no fetch can still complete.
func (f *inflight[T, C]) drain(fn func(t T, data, completed C)) {
	for {
		e, ok := f.tree.DeleteMin()
		if !ok {
			break
		}
		fn(e.time, e.data, e.completed)
	}
	f.outstanding = 0
}
