package state

import (
	"slices"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location"
)

// Every transition is a pure function of a State and its arguments: it
// returns the next state and whether anything changed (an unchanged state
// need not be written), plus an outcome where the caller needs one. None
// modifies its input.

// AppendOutcome is the result of CompareAndAppend.
type AppendOutcome int

const (
	// Appended: the batch is now part of the shard.
	Appended AppendOutcome = iota + 1
	// AlreadyAppended: a batch with the same token was committed before (a
	// retry after an indeterminate commit); nothing changed.
	AlreadyAppended
	// UpperMismatch: the shard's upper is not the expected lower; nothing
	// changed.
	UpperMismatch
	// InvalidBounds: the new upper is not beyond the expected upper.
	InvalidBounds
)

// RegisterWriter adds (or refreshes) the writer id.
func (s State) RegisterWriter(id string, nowMs, leaseMs int64) State {
	n := s.clone()
	w, ok := n.Writer(id)
	w.ID, w.LastHeartbeatMs, w.LeaseDurationMs = id, nowMs, leaseMs
	n.putWriter(w, ok)
	n.Transitions++
	return n
}

// RemoveWriter drops the writer id; changed is false if it was not there.
func (s State) RemoveWriter(id string) (State, bool) {
	i := slices.IndexFunc(s.Writers, func(w Writer) bool { return w.ID == id })
	if i < 0 {
		return s, false
	}
	n := s.clone()
	n.Writers = slices.Delete(n.Writers, i, i+1)
	n.Transitions++
	return n, true
}

// CompareAndAppend commits b, whose Lower must equal the shard's upper, as
// the next batch. A token already committed by b.WriterID, or recorded on a
// batch still in state, makes the append AlreadyAppended. On UpperMismatch
// the caller reads the current upper from s. The append records itself on
// its writer, registering the writer again, with a lease of leaseMs, if it
// expired or closed meanwhile (a writer with no lease never expires).
func (s State) CompareAndAppend(b Batch, nowMs, leaseMs int64) (State, AppendOutcome) {
	if b.Token != "" {
		if w, ok := s.Writer(b.WriterID); ok && w.MostRecentToken == b.Token {
			return s, AlreadyAppended
		}
		for _, old := range s.Batches {
			if old.Token == b.Token && old.WriterID == b.WriterID {
				return s, AlreadyAppended
			}
		}
	}
	if !s.Upper.Equal(b.Lower) {
		return s, UpperMismatch
	}
	if !frontier.LessEqual(b.Lower, b.Upper) || (b.Lower.Equal(b.Upper) && len(b.Parts) > 0) {
		return s, InvalidBounds
	}
	n := s.clone()
	if len(b.Parts) == 0 && len(n.Batches) > 0 && extensible(n.Batches[len(n.Batches)-1]) {
		// Empty batches only carry progress: extend the last empty batch
		// instead of growing state without bound.
		last := n.Batches[len(n.Batches)-1]
		last.Upper = b.Upper.Clone()
		last.WriterID, last.Token = b.WriterID, b.Token
		n.Batches[len(n.Batches)-1] = last
	} else if !b.Lower.Equal(b.Upper) {
		n.Batches = append(n.Batches, b)
	}
	n.Upper = b.Upper.Clone()
	if b.WriterID != "" {
		w, ok := n.Writer(b.WriterID)
		if !ok || w.LeaseDurationMs == 0 {
			// Registered again, or left without a lease by earlier code,
			// which re-registered writers so: a writer with no lease
			// would never expire.
			w.LeaseDurationMs = leaseMs
		}
		w.ID = b.WriterID
		w.LastHeartbeatMs = nowMs
		w.MostRecentToken = b.Token
		w.MostRecentUpper = b.Upper.Clone()
		n.putWriter(w, ok)
	}
	n.Transitions++
	return n, Appended
}

// extensible reports whether an empty append may extend batch b rather
// than follow it: b is empty, and holds nothing besides its bounds. Not a
// batch with fields newer code wrote, which may hold what this code cannot
// see; nor one with a since, which a compaction whose rows cancelled left:
// it tells a listen behind that since that rows it never yielded were
// compacted away, and stretched over later times it would say so of times
// no compaction saw, while dropped it would say nothing at all.
func extensible(b Batch) bool {
	return len(b.Parts) == 0 && !b.HasUnknown() && b.Since.IsEmpty()
}

// RegisterReader adds a reader holding the shard at s.SeqNo and s.Since.
// Registering an id that exists only refreshes its heartbeat.
func (s State) RegisterReader(id, purpose string, nowMs, leaseMs int64) (State, Reader) {
	n := s.clone()
	r, ok := n.Reader(id)
	if !ok {
		r = Reader{ID: id, Purpose: purpose, SeqNoHold: s.SeqNo, Since: s.Since.Clone(), LeaseDurationMs: leaseMs}
	}
	r.LastHeartbeatMs = nowMs
	n.putReader(r, ok)
	n.Transitions++
	return n, r
}

// HeartbeatReader refreshes the reader's lease and moves its seqno hold
// forward to hold (never back). ok is false if the reader is gone.
func (s State) HeartbeatReader(id string, hold location.SeqNo, nowMs int64) (next State, ok bool) {
	r, ok := s.Reader(id)
	if !ok {
		return s, false
	}
	n := s.clone()
	r.LastHeartbeatMs = max(r.LastHeartbeatMs, nowMs)
	r.SeqNoHold = max(r.SeqNoHold, hold)
	n.putReader(r, true)
	n.Transitions++
	return n, true
}

// DowngradeSince moves the reader's since forward to since (never back) and
// the shard's since to the meet of the readers' sinces, which never
// regresses either. ok is false if the reader is gone.
func (s State) DowngradeSince(id string, since Frontier, hold location.SeqNo, nowMs int64) (next State, ok bool) {
	r, ok := s.Reader(id)
	if !ok {
		return s, false
	}
	n := s.clone()
	if frontier.LessEqual(r.Since, since) {
		r.Since = since.Clone()
	}
	r.LastHeartbeatMs = max(r.LastHeartbeatMs, nowMs)
	r.SeqNoHold = max(r.SeqNoHold, hold)
	n.putReader(r, true)
	n.advanceSince()
	n.Transitions++
	return n, true
}

// ExpireReader removes the reader id; changed is false if it was not there.
func (s State) ExpireReader(id string) (State, bool) {
	i := slices.IndexFunc(s.Readers, func(r Reader) bool { return r.ID == id })
	if i < 0 {
		return s, false
	}
	n := s.clone()
	n.Readers = slices.Delete(n.Readers, i, i+1)
	n.advanceSince()
	n.Transitions++
	return n, true
}

// ExpireStale removes the readers and writers whose lease ran out before
// nowMs and returns the ids of the readers it removed.
func (s State) ExpireStale(nowMs int64) (State, []string) {
	var expired []string
	n := s
	for _, r := range s.Readers {
		if r.LeaseDurationMs > 0 && r.LastHeartbeatMs+r.LeaseDurationMs < nowMs {
			n, _ = n.ExpireReader(r.ID)
			expired = append(expired, r.ID)
		}
	}
	for _, w := range s.Writers {
		if w.LeaseDurationMs > 0 && w.LastHeartbeatMs+w.LeaseDurationMs < nowMs {
			n, _ = n.RemoveWriter(w.ID)
		}
	}
	return n, expired
}

// ApplyCompaction replaces the run of batches spanning exactly [lower,
// upper) whose parts are exactly the keys in replaced with c, and returns
// that run as it was (s's own batches: not to be modified). ok is false,
// and nothing changes, if that run is no longer in state (another
// compaction won).
func (s State) ApplyCompaction(replaced []string, c Batch) (next State, run []Batch, ok bool) {
	first, last, ok := s.compactionRun(replaced, c.Lower, c.Upper)
	if !ok {
		return s, nil, false
	}
	n := s.clone()
	n.Batches = slices.Replace(n.Batches, first, last+1, c)
	n.Transitions++
	return n, s.Batches[first : last+1], true
}

// compactionRun finds the run of batches spanning exactly [lower, upper)
// whose parts are exactly the keys in replaced.
func (s State) compactionRun(replaced []string, lower, upper frontier.Antichain[frontier.Time]) (first, last int, ok bool) {
	first = slices.IndexFunc(s.Batches, func(b Batch) bool { return b.Lower.Equal(lower) })
	if first < 0 {
		return 0, 0, false
	}
	var keys []string
	last = -1
	for i := first; i < len(s.Batches); i++ {
		for _, p := range s.Batches[i].Parts {
			keys = append(keys, p.Key)
		}
		if s.Batches[i].Upper.Equal(upper) {
			last = i
			break
		}
	}
	if last < 0 || !slices.Equal(keys, replaced) {
		return 0, 0, false
	}
	return first, last, true
}

// advanceSince sets the shard since to the meet of the readers' sinces if
// that is beyond the current since. Without readers the since stays.
func (s *State) advanceSince() {
	if len(s.Readers) == 0 {
		return
	}
	meet := s.Readers[0].Since.Clone()
	for _, r := range s.Readers[1:] {
		meet = frontier.Meet(meet, r.Since)
	}
	if frontier.LessEqual(s.Since, meet) {
		s.Since = meet
	}
}

func (s *State) putReader(r Reader, exists bool) {
	i, _ := slices.BinarySearchFunc(s.Readers, r.ID, func(r Reader, id string) int { return compareString(r.ID, id) })
	if exists {
		s.Readers[i] = r
		return
	}
	s.Readers = slices.Insert(s.Readers, i, r)
}

func (s *State) putWriter(w Writer, exists bool) {
	i, _ := slices.BinarySearchFunc(s.Writers, w.ID, func(w Writer, id string) int { return compareString(w.ID, id) })
	if exists {
		s.Writers[i] = w
		return
	}
	s.Writers = slices.Insert(s.Writers, i, w)
}
