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
	// listed is set while the counts are in their scope's counted list;
	// t and diff, the change at the first time counted since, are valid
	// only then.
	listed bool
	t      T
	diff   int64
	// more holds the changes at other times, not necessarily
	// consolidated: equal times are summed only when they are recent.
	more []frontier.Update[T]
}

// recentTimes is how many of a location's latest other times countMore
// looks through for an equal one before appending: bounded for a location
// that sees many times in one step.
const recentTimes = 4

// count adds diff to the pending count of (pc.loc, t).
func (s *Scope[T]) count(pc *portCounts[T], t T, diff int64) {
	if pc.listed && pc.t == t {
		pc.diff += diff
		return
	}
	s.countOther(pc, t, diff)
}

// countOther is count for a location not yet listed or at another time.
func (s *Scope[T]) countOther(pc *portCounts[T], t T, diff int64) {
	if !pc.listed {
		pc.listed, pc.t, pc.diff = true, t, diff
		s.counted = append(s.counted, pc)
		return
	}
	u := pc.more
	for i := len(u) - 1; i >= 0 && i >= len(u)-recentTimes; i-- {
		if u[i].Time == t {
			u[i].Diff += diff
			return
		}
	}
	pc.more = append(u, frontier.Update[T]{Time: t, Diff: diff})
}

// collect moves the non-zero sums of every counted location into pending.
func (s *Scope[T]) collect() {
	if len(s.counted) > 0 { // an idle step counts nothing
		s.collectCounted()
	}
}

func (s *Scope[T]) collectCounted() {
	for i, pc := range s.counted {
		if pc.diff != 0 {
			s.pending.Update(pointstamp[T]{loc: pc.loc, t: pc.t}, pc.diff)
		}
		if len(pc.more) > 0 {
			for _, u := range pc.more {
				if u.Diff != 0 {
					s.pending.Update(pointstamp[T]{loc: pc.loc, t: u.Time}, u.Diff)
				}
			}
			clear(pc.more) // times may hold references
			pc.more = pc.more[:0]
		}
		var zero T
		pc.listed, pc.t, pc.diff = false, zero, 0
		s.counted[i] = nil
	}
	s.counted = s.counted[:0]
}
