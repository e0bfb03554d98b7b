package persist

import (
	"container/heap"
	"context"
	"fmt"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/part"
	"github.com/shardflow/shardflow/persist/internal/state"
)

// mergeSpec says how mergeRuns merges.
type mergeSpec struct {
	id string // names the parts written
	// target cuts the output into parts of at most this many bytes, as
	// bufferedSize counts them: the rows held before a part is written.
	target int64
	// exact sums the rows of one (key, val, time) exactly, and fails the
	// merge with a *DiffOverflowError if the sum leaves the int64 range;
	// otherwise such rows stay apart.
	exact bool
	// since advances the times of rows before it to it (0: none).
	since frontier.Time
	// progress, if not nil, is called with the rows read so far each time
	// the merge reads a part: one call a part, never one a row.
	progress func(rowsIn int64)
	// check merges without writing, to find an overflow (with exact): it
	// skips rows at times after through and holds no decoded part longer
	// than its cursor reads it.
	check   bool
	through frontier.Time
}

// mergeResult is what mergeRuns wrote.
type mergeResult struct {
	run
	rowsIn, rowsOut int64
}

// mergeRuns merges runs into one, written as new parts, reading one part
// of each run at a time. A run is a sequence of parts, each sorted by (key,
// val, time) and consolidated, with each part's rows before the next
// part's: a batch's parts, or a builder's run. Advancing times to a since
// keeps that order. On failure the parts it wrote are deleted.
func mergeRuns(ctx context.Context, c *Client, shard ShardID, runs []run, spec mergeSpec) (mergeResult, error) {
	m := &runMerge{c: c, shard: shard, spec: spec}
	defer m.release()
	out, err := m.merge(ctx, runs)
	if err != nil {
		deleteParts(c, out.parts)
		return mergeResult{}, err
	}
	return out, nil
}

// runMerge is the state of one mergeRuns.
type runMerge struct {
	c     *Client
	shard ShardID
	spec  mergeSpec

	cursors runHeap
	out     []Update // rows not yet written; they reference decoded parts
	outSize int64
	peak    int64 // the largest outSize: the merge's memory, for tests
	rowsIn  int64
	rowsOut int64
	// done holds the decoded parts cursors have moved past; rows of out
	// may still reference them until out is written.
	done []*part.Decoded
}

func (m *runMerge) merge(ctx context.Context, runs []run) (mergeResult, error) {
	var res mergeResult
	for _, r := range runs {
		rc := &runCursor{parts: r.parts, since: m.spec.since, behind: r.behind}
		ok, err := rc.next(ctx, m)
		if err != nil {
			return res, err
		}
		if ok {
			m.cursors = append(m.cursors, rc)
		}
	}
	heap.Init(&m.cursors)
	var (
		cur   Update
		sum   = rowSum{exact: m.spec.exact}
		have  bool
		apart bool
		// behind sums, in a check, the rows of the runs marked behind:
		// what a compaction at the since would sum. Other merges mark no
		// run and leave it at zero.
		behind = rowSum{exact: true}
	)
	// emit ends the group of rows equal to cur.
	emit := func() error {
		total, ok := sum.total()
		if !ok {
			if m.spec.check {
				return &SinceCheckError{Since: m.spec.through, Read: true, Overflow: sum.overflowError(cur)}
			}
			return sum.overflow(cur)
		}
		if _, ok := behind.total(); m.spec.check && !ok {
			return &SinceCheckError{Since: m.spec.through, Overflow: behind.overflowError(cur)}
		}
		m.add(cur, total)
		if m.spec.check || (m.outSize < m.spec.target && len(m.out) < part.MaxRows) {
			return nil
		}
		parts, err := m.write(ctx)
		res.parts = append(res.parts, parts...)
		return err
	}
	var keep []byte // check: cur's key and val, copied out of their part
	for len(m.cursors) > 0 {
		rc := m.cursors[0]
		row := rc.row()
		switch {
		case m.spec.check && row.Time > m.spec.through:
			// Not read at as-of through: no sum of its.
		case have && compareUpdates(cur, row) == 0:
			if closed, ok := sum.add(row.Diff); ok {
				m.add(cur, closed)
				apart = true
			}
			if rc.behind {
				behind.add(row.Diff)
			}
		default:
			if have {
				if err := emit(); err != nil {
					return res, err
				}
			}
			cur, have = row, true
			sum.reset(row.Diff)
			if m.spec.check {
				keep = append(append(keep[:0], row.Key...), row.Val...)
				cur.Key, cur.Val = keep[:len(row.Key):len(row.Key)], keep[len(row.Key):]
				behind.reset(0)
				if rc.behind {
					behind.add(row.Diff)
				}
			}
		}
		// Only now may the cursor move on: cur may reference its part.
		ok, err := rc.next(ctx, m)
		if err != nil {
			return res, err
		}
		if ok {
			heap.Fix(&m.cursors, 0)
		} else {
			heap.Pop(&m.cursors)
		}
	}
	if have {
		if err := emit(); err != nil {
			return res, err
		}
	}
	parts, err := m.write(ctx)
	res.parts, res.apart = append(res.parts, parts...), apart
	res.rowsIn, res.rowsOut = m.rowsIn, m.rowsOut
	return res, err
}

// add appends a row to the output, unless its diff is zero (or the merge
// only checks: then it only counts it).
func (m *runMerge) add(u Update, diff int64) {
	if diff == 0 {
		return
	}
	u.Diff = diff
	m.rowsOut++
	if m.spec.check {
		return
	}
	m.out = append(m.out, u)
	m.outSize += bufferedSize(u)
	m.peak = max(m.peak, m.outSize)
}

// write writes the output rows as a part and releases the decoded parts
// no row references any more.
func (m *runMerge) write(ctx context.Context) ([]state.Part, error) {
	if len(m.out) == 0 {
		return nil, nil
	}
	parts, err := writeParts(ctx, m.c, m.shard, m.spec.id, m.out, -1, m.spec.target)
	clear(m.out)
	m.out, m.outSize = m.out[:0], 0
	for _, d := range m.done {
		d.Release()
	}
	m.done = m.done[:0]
	return parts, err
}

// release gives back every decoded part still held.
func (m *runMerge) release() {
	for _, d := range m.done {
		d.Release()
	}
	for _, rc := range m.cursors {
		if rc.d != nil {
			rc.d.Release()
		}
	}
	m.done, m.cursors = nil, nil
}

// runCursor reads a run's rows in order, one decoded part at a time.
type runCursor struct {
	parts  []state.Part // not yet read
	since  frontier.Time
	behind bool // see run
	d      *part.Decoded
	i      int
}

// row returns the cursor's current row, its time advanced to the since;
// its key and value reference the decoded part.
func (rc *runCursor) row() Update { return rowAt(rc.d, rc.i, rc.since) }

func rowAt(d *part.Decoded, i int, since frontier.Time) Update {
	return Update{Key: d.Key(i), Val: d.Val(i), Time: max(d.Time(i), since), Diff: d.Diff(i)}
}

// next moves to the next row, reading the run's next part when the current
// one is used up, and reports whether there is one.
func (rc *runCursor) next(ctx context.Context, m *runMerge) (bool, error) {
	prev := rc.d
	if prev != nil {
		if rc.i+1 < prev.Len() {
			rc.i++
			m.rowsIn++
			return true, nil
		}
		// Rows of out may reference prev until they are written; a check
		// keeps no row of its.
		if m.spec.check {
			defer prev.Release() // once compared with the next part
		} else {
			m.done = append(m.done, prev)
		}
		rc.d = nil
	}
	for len(rc.parts) > 0 {
		p := rc.parts[0]
		rc.parts = rc.parts[1:]
		d, err := m.c.fetchDecoded(ctx, m.shard, partDesc(p, state.Batch{}), "")
		if err != nil {
			return false, fmt.Errorf("read part %s: %w", p.Key, err)
		}
		if d.Len() == 0 {
			d.Release()
			continue
		}
		if prev != nil && compareUpdates(rowAt(prev, prev.Len()-1, rc.since), rowAt(d, 0, rc.since)) > 0 {
			// Merging would write unsorted parts.
			d.Release()
			return false, fmt.Errorf("part %s: its rows do not follow the previous part's: the parts are not one sorted run", p.Key)
		}
		rc.d, rc.i = d, 0
		m.rowsIn++
		if m.spec.progress != nil {
			m.spec.progress(m.rowsIn)
		}
		return true, nil
	}
	return false, nil
}

// runHeap orders cursors by their current rows.
type runHeap []*runCursor

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return compareUpdates(h[i].row(), h[j].row()) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runCursor)) }
func (h *runHeap) Pop() any {
	old := *h
	rc := old[len(old)-1]
	*h = old[:len(old)-1]
	return rc
}
