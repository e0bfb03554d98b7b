package dataflow

import (
	"github.com/shardflow/shardflow/frontier"
)

// The progress tracker is synchronous and owns no goroutine: it is told of
// pointstamp count changes and, when asked to propagate, works out how the
// frontier of every input port moved.
//
// Each location keeps two counted multisets. pointstamps holds the times of
// capabilities (at an output port) or of unconsumed messages (at an input
// port). implications holds the frontier elements of pointstamps plus, for
// each predecessor location, the frontier elements of its implications
// carried along the edge between them (unchanged along a stream edge,
// through the operator's summary from an input to an output). The frontier
// of an input port's implications is the input frontier an operator sees: a
// lower bound on every time that may still arrive there.
//
// Changes move along a worklist ordered by time, so each location's
// frontier settles before later times pass through it, and a cycle (whose
// summary strictly advances time) stops as soon as an advanced time is
// already dominated.

// summaryEdge connects an input port of an operator to one of its outputs.
// s is nil for the identity summary.
type summaryEdge[T frontier.Timestamp[T]] struct {
	out int
	s   Summary[T]
}

// graph is the shape of one dataflow as the tracker sees it.
type graph[T frontier.Timestamp[T]] struct {
	// internal[op][input] lists the outputs that input is connected to.
	internal [][][]summaryEdge[T]
	// edges[op][output] lists the input ports that output feeds.
	edges [][][]location
	// outputs[op] is the number of outputs of op.
	outputs []int
}

type portState[T frontier.Timestamp[T]] struct {
	pointstamps  frontier.MutableAntichain[T]
	implications frontier.MutableAntichain[T]
	dirty        bool // listed in tracker.changed
}

type workItem[T frontier.Timestamp[T]] struct {
	t    T
	loc  location
	diff int64
}

type tracker[T frontier.Timestamp[T]] struct {
	g       graph[T]
	targets [][]portState[T]
	sources [][]portState[T]
	work    []workItem[T]        // a binary min-heap by (t, loc)
	scratch []frontier.Update[T] // apply's updates of one location
	// changed lists the input ports whose frontier moved since takeChanged.
	changed []location
	// live counts locations whose pointstamps hold a positive count.
	live int
}

func newTracker[T frontier.Timestamp[T]](g graph[T]) *tracker[T] {
	tr := &tracker[T]{g: g}
	tr.targets = make([][]portState[T], len(g.internal))
	tr.sources = make([][]portState[T], len(g.internal))
	for op := range g.internal {
		tr.targets[op] = make([]portState[T], len(g.internal[op]))
		tr.sources[op] = make([]portState[T], g.outputs[op])
	}
	return tr
}

func (tr *tracker[T]) port(l location) *portState[T] {
	if l.src {
		return &tr.sources[l.op][l.port]
	}
	return &tr.targets[l.op][l.port]
}

// update changes the count of pointstamp (l, t) by diff.
func (tr *tracker[T]) update(l location, t T, diff int64) {
	if diff == 0 {
		return
	}
	ps := tr.port(l)
	was := ps.pointstamps.IsEmpty()
	for _, c := range ps.pointstamps.Update(t, diff) {
		tr.push(workItem[T]{c.Time, l, c.Diff})
	}
	tr.noteLive(was, ps.pointstamps.IsEmpty())
}

// apply applies a consolidated batch, grouping the updates of each
// location: each location's are applied together, so that its frontier is
// rebuilt at most once, and only its net change is pushed. (One at a time,
// every update at the frontier rebuilt it from all the location's counts:
// a worker catching up on a batch that retires many times at once spent
// time quadratic in the batch.)
func (tr *tracker[T]) apply(batch progressBatch[T]) {
	for len(batch) > 0 {
		l := batch[0].Time.loc
		n := 1
		for n < len(batch) && batch[n].Time.loc == l {
			n++
		}
		ps := tr.port(l)
		was := ps.pointstamps.IsEmpty()
		tr.scratch = tr.scratch[:0]
		for _, u := range batch[:n] {
			tr.scratch = append(tr.scratch, frontier.Update[T]{Time: u.Time.t, Diff: u.Diff})
		}
		for _, c := range ps.pointstamps.UpdateIter(tr.scratch) {
			tr.push(workItem[T]{c.Time, l, c.Diff})
		}
		tr.noteLive(was, ps.pointstamps.IsEmpty())
		batch = batch[n:]
	}
}

func (tr *tracker[T]) noteLive(wasEmpty, isEmpty bool) {
	switch {
	case wasEmpty && !isEmpty:
		tr.live++
	case !wasEmpty && isEmpty:
		tr.live--
	}
}

// done reports whether no location holds a positive count: nothing can
// happen in the dataflow any more.
func (tr *tracker[T]) done() bool { return tr.live == 0 }

// propagate moves every queued change through the graph.
func (tr *tracker[T]) propagate() {
	for len(tr.work) > 0 {
		it := tr.pop()
		for len(tr.work) > 0 && tr.work[0].t == it.t && tr.work[0].loc == it.loc {
			it.diff += tr.pop().diff
		}
		if it.diff == 0 {
			continue
		}
		ps := tr.port(it.loc)
		changes := ps.implications.Update(it.t, it.diff)
		if len(changes) == 0 {
			continue
		}
		op, port := int(it.loc.op), int(it.loc.port)
		if it.loc.src {
			for _, c := range changes {
				for _, to := range tr.g.edges[op][port] {
					tr.push(workItem[T]{c.Time, to, c.Diff})
				}
			}
			continue
		}
		if !ps.dirty {
			ps.dirty = true
			tr.changed = append(tr.changed, it.loc)
		}
		for _, c := range changes {
			for _, e := range tr.g.internal[op][port] {
				t, ok := c.Time, true
				if e.s != nil {
					t, ok = applyStrict(e.s, c.Time)
				}
				if ok {
					tr.push(workItem[T]{t, source(op, e.out), c.Diff})
				}
			}
		}
	}
}

// takeChanged returns the input ports whose frontier moved since the last
// call, each once. The slice is the tracker's and valid until propagate.
func (tr *tracker[T]) takeChanged() []location {
	out := tr.changed
	for _, l := range out {
		tr.targets[l.op][l.port].dirty = false
	}
	tr.changed = tr.changed[:0]
	return out
}

// frontier returns the frontier of input port (op, port).
func (tr *tracker[T]) frontier(op, port int) *frontier.MutableAntichain[T] {
	return &tr.targets[op][port].implications
}

func (a workItem[T]) less(b workItem[T]) bool {
	if c := a.t.Compare(b.t); c != 0 {
		return c < 0
	}
	return a.loc.compare(b.loc) < 0
}

func (tr *tracker[T]) push(it workItem[T]) {
	tr.work = append(tr.work, it)
	h := tr.work
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (tr *tracker[T]) pop() workItem[T] {
	h := tr.work
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].less(h[m]) {
			m = l
		}
		if r < n && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	tr.work = h
	return top
}
