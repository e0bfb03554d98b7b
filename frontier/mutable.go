package frontier

// MutableAntichain is a multiset of times with signed counts that maintains
// its frontier: the minimal times whose count is positive.
//
// Counts may be transiently negative: updates from different workers arrive
// in any order, so a retraction may be seen before the matching addition. A
// time with a non-positive count is simply not part of the frontier.
//
// Updating is cheap when an update cannot change the frontier (a time
// strictly beyond it, an increment of a time already in it, a decrement of a
// time not at or beyond it); otherwise the frontier is rebuilt from the
// consolidated counts.
//
// The zero value is an empty multiset with the empty frontier.
type MutableAntichain[T Timestamp[T]] struct {
	counts   ChangeBatch[T]
	frontier []T // sorted by Compare
	changes  ChangeBatch[T]
	scratch  []T
}

// NewMutableAntichainAt returns a multiset holding t once.
func NewMutableAntichainAt[T Timestamp[T]](t T) *MutableAntichain[T] {
	m := &MutableAntichain[T]{}
	m.counts.Update(t, 1)
	m.frontier = append(m.frontier, t)
	return m
}

// Frontier returns the current frontier. It shares storage with m and is
// valid until the next update; changing it (Insert, Clear) copies it first,
// leaving m's frontier as it is.
func (m *MutableAntichain[T]) Frontier() Antichain[T] {
	return Antichain[T]{elements: m.frontier, borrowed: true}
}

// LessEqual reports whether some frontier element is <= t.
func (m *MutableAntichain[T]) LessEqual(t T) bool { return lessEqual(m.frontier, t) }

// LessThan reports whether some frontier element is < t.
func (m *MutableAntichain[T]) LessThan(t T) bool { return lessThan(m.frontier, t) }

// IsEmpty reports whether the frontier is empty.
func (m *MutableAntichain[T]) IsEmpty() bool { return len(m.frontier) == 0 }

// CountFor returns the count of t.
func (m *MutableAntichain[T]) CountFor(t T) int64 {
	var (
		n     int64
		wraps int
	)
	for _, u := range m.counts.Unstable() {
		if u.Time == t {
			n, wraps = addDiff(n, u.Diff, wraps)
		}
	}
	checkWraps(t, wraps)
	return n
}

// Update applies one update and returns the resulting frontier changes (see
// UpdateIter).
func (m *MutableAntichain[T]) Update(t T, diff int64) []Update[T] {
	return m.UpdateIter([]Update[T]{{t, diff}})
}

// UpdateIter applies updates and returns the changes to the frontier: +1 for
// each time that entered it, -1 for each that left. Applying the changes to
// the previous frontier gives the new one. The returned slice is m's own and
// is valid until the next update.
func (m *MutableAntichain[T]) UpdateIter(updates []Update[T]) []Update[T] {
	rebuild := false
	for _, u := range updates {
		if u.Diff == 0 {
			continue
		}
		if !rebuild && !m.cannotChange(u) {
			rebuild = true
		}
		m.counts.Update(u.Time, u.Diff)
	}
	m.changes.Clear()
	if rebuild {
		m.rebuild()
	}
	return m.changes.Updates()
}

// cannotChange reports whether u provably leaves the frontier as it is.
func (m *MutableAntichain[T]) cannotChange(u Update[T]) bool {
	beyond, atOrBeyond, in := false, false, false
	for _, f := range m.frontier {
		if f.LessEqual(u.Time) {
			atOrBeyond = true
			if f == u.Time {
				in = true
			} else {
				beyond = true
			}
		}
	}
	switch {
	case beyond:
		// Strictly beyond a frontier element: it is not minimal before or after.
		return true
	case u.Diff > 0:
		// Adding to a time already in the frontier keeps it there.
		return in
	default:
		// Removing from a time not at or beyond the frontier: its count was
		// not positive (a transiently negative count) and stays so.
		return !atOrBeyond
	}
}

func (m *MutableAntichain[T]) rebuild() {
	old := append(m.scratch[:0], m.frontier...)
	m.frontier = m.frontier[:0]
	// Sorted by Compare, which extends the partial order, a time can only be
	// dominated by one that comes before it.
	for _, u := range m.counts.Updates() {
		if u.Diff > 0 && !lessEqual(m.frontier, u.Time) {
			m.frontier = append(m.frontier, u.Time)
		}
	}
	for _, t := range old {
		m.changes.Update(t, -1)
	}
	for _, t := range m.frontier {
		m.changes.Update(t, +1)
	}
	m.scratch = old
}
