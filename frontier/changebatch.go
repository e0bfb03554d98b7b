package frontier

import (
	"fmt"
	"slices"
)

// Update is a signed change in the count of a time.
type Update[T any] struct {
	Time T
	Diff int64
}

// ChangeBatch accumulates (time, diff) updates and consolidates them lazily:
// sort by time, sum the diffs of equal times, drop zeros. Updates are
// appended in O(1); the batch compacts itself when at most half of it is
// known to be consolidated, so its size stays proportional to the number of
// distinct times with a non-zero count.
//
// The zero value is an empty batch.
type ChangeBatch[T Timestamp[T]] struct {
	updates []Update[T]
	clean   int // updates[:clean] is sorted, consolidated, free of zeros
}

// Update adds diff to the count of t.
func (c *ChangeBatch[T]) Update(t T, diff int64) {
	if diff == 0 {
		return
	}
	c.updates = append(c.updates, Update[T]{t, diff})
	c.maintainBounds()
}

// Extend adds each update.
func (c *ChangeBatch[T]) Extend(updates ...Update[T]) {
	for _, u := range updates {
		if u.Diff != 0 {
			c.updates = append(c.updates, u)
		}
	}
	c.maintainBounds()
}

// IsEmpty reports whether every count is zero. It compacts if needed.
func (c *ChangeBatch[T]) IsEmpty() bool {
	if c.clean == len(c.updates) {
		return c.clean == 0
	}
	c.Compact()
	return len(c.updates) == 0
}

// Len returns the number of distinct times with a non-zero count.
func (c *ChangeBatch[T]) Len() int {
	c.Compact()
	return len(c.updates)
}

// Updates returns the consolidated updates, sorted by time. The slice is the
// batch's own and is valid until the next call that changes the batch.
func (c *ChangeBatch[T]) Updates() []Update[T] {
	c.Compact()
	return c.updates
}

// Unstable returns the raw, possibly unconsolidated updates without
// compacting. Their sum per time is the batch's content.
func (c *ChangeBatch[T]) Unstable() []Update[T] { return c.updates }

// Drain returns the consolidated updates and empties the batch. The returned
// slice is the caller's.
func (c *ChangeBatch[T]) Drain() []Update[T] {
	c.Compact()
	out := c.updates
	c.updates, c.clean = nil, 0
	return out
}

// DrainInto moves every update into dst, leaving c empty. It keeps c's
// storage, except that a dst with none takes c's when c is consolidated,
// rather than copy it.
func (c *ChangeBatch[T]) DrainInto(dst *ChangeBatch[T]) {
	if dst.updates == nil && c.clean == len(c.updates) {
		dst.updates, dst.clean = c.updates, c.clean
		c.updates, c.clean = nil, 0
		return
	}
	dst.Extend(c.updates...)
	c.Clear()
}

// Clear empties the batch, keeping its storage.
func (c *ChangeBatch[T]) Clear() {
	c.updates = c.updates[:0]
	c.clean = 0
}

// Compact consolidates the batch: sorted by time, one entry per time, no
// zero diffs.
func (c *ChangeBatch[T]) Compact() {
	if c.clean == len(c.updates) {
		return
	}
	c.updates = consolidate(c.updates)
	c.clean = len(c.updates)
}

func (c *ChangeBatch[T]) maintainBounds() {
	if len(c.updates) > 32 && len(c.updates)/2 >= c.clean {
		c.Compact()
	}
}

// addDiff returns a + b as int64 arithmetic wraps it, and wraps moved by
// the times it wrapped: +1 past the top, -1 past the bottom. A sum of
// several diffs is exact, wraps and all, when its wraps come to 0.
func addDiff(a, b int64, wraps int) (int64, int) {
	s := a + b
	switch {
	case b > 0 && s < a:
		wraps++
	case b < 0 && s > a:
		wraps--
	}
	return s, wraps
}

// checkWraps panics if a count of t left the int64 range: wrapped, it
// would have another sign, or be zero, and a frontier built on it would be
// wrong.
func checkWraps[T any](t T, wraps int) {
	if wraps != 0 {
		panic(fmt.Sprintf("frontier: the count of time %v is beyond the int64 range", t))
	}
}

// consolidate sorts updates by time, sums equal times and drops zeros, in
// place.
func consolidate[T Timestamp[T]](updates []Update[T]) []Update[T] {
	if len(updates) <= 1 {
		if len(updates) == 1 && updates[0].Diff == 0 {
			return updates[:0]
		}
		return updates
	}
	// Time is the common case; sorting it without the generic dictionary
	// call per comparison is several times faster.
	if ut, ok := any(updates).([]Update[Time]); ok {
		slices.SortFunc(ut, func(a, b Update[Time]) int {
			switch {
			case a.Time < b.Time:
				return -1
			case a.Time > b.Time:
				return 1
			}
			return 0
		})
	} else {
		slices.SortFunc(updates, func(a, b Update[T]) int { return a.Time.Compare(b.Time) })
	}
	out := 0
	for i := 0; i < len(updates); {
		t, sum := updates[i].Time, updates[i].Diff
		j := i + 1
		var wraps int
		for j < len(updates) && updates[j].Time == t {
			sum, wraps = addDiff(sum, updates[j].Diff, wraps)
			j++
		}
		checkWraps(t, wraps)
		if sum != 0 {
			updates[out] = Update[T]{t, sum}
			out++
		}
		i = j
	}
	return updates[:out]
}
