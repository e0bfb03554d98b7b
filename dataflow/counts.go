package dataflow

import (
	"github.com/shardflow/shardflow/frontier"
)

// portCounts accumulates the count changes of one location (an input
// port's queued messages, an output port's capabilities) since the
// dataflow last reported its progress. Most of them cancel within a step:
// a message pushed to an input and read by its operator in the same step
// is +1 then -1 at the same time. Summing per location first keeps such
// pairs out of the progress batch, which then only sorts what changed.
type portCounts[T frontier.Timestamp[T]] struct {
	loc location
	// listed is set while the counts are in their scope's counted list.
	listed bool
	// updates holds the changes of this location, not necessarily
	// consolidated: equal times are summed only when they are recent.
	updates []frontier.Update[T]
}

// recentTimes is how many of a location's latest times count looks through
// for an equal one before appending: enough for the common single time,
// bounded for a location that sees many times in one step.
const recentTimes = 4

// count adds diff to the pending count of (pc.loc, t).
func (s *Scope[T]) count(pc *portCounts[T], t T, diff int64) {
	if !pc.listed {
		pc.listed = true
		s.counted = append(s.counted, pc)
	}
	u := pc.updates
	for i := len(u) - 1; i >= 0 && i >= len(u)-recentTimes; i-- {
		if u[i].Time == t {
			u[i].Diff += diff
			return
		}
	}
	pc.updates = append(u, frontier.Update[T]{Time: t, Diff: diff})
}

// collect moves the non-zero sums of every counted location into pending.
func (s *Scope[T]) collect() {
	for i, pc := range s.counted {
		for _, u := range pc.updates {
			if u.Diff != 0 {
				s.pending.Update(pointstamp[T]{loc: pc.loc, t: u.Time}, u.Diff)
			}
		}
		clear(pc.updates) // times may hold references
		pc.updates = pc.updates[:0]
		pc.listed = false
		s.counted[i] = nil
	}
	s.counted = s.counted[:0]
}
