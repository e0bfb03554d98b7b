package persist

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
)

// CompactReport says what a compaction did.
type CompactReport struct {
	BatchesMerged int // batches replaced (0: nothing to do or lost a race)
	PartsIn       int
	PartsOut      int
	RowsIn        int64
	RowsOut       int64
}

// Compact merges the batches wholly behind the shard's since into one
// batch, advancing their rows' times to the since and consolidating them,
// so that history no reader can ask for any more stops costing space. The
// replaced parts stay referenced by older state versions until GC finds no
// reader holding those versions. Losing a race to a concurrent compaction is
// not an error: the new parts are deleted and BatchesMerged is 0. If the
// rows of one (key, val) would sum out of the int64 range at the since,
// nothing is merged and the error wraps ErrDiffOverflow.
func (c *Client) Compact(ctx context.Context, shard ShardID) (CompactReport, error) {
	var rep CompactReport
	m, err := c.machine(shard)
	if err != nil {
		return rep, err
	}
	s, err := m.head(ctx)
	if err != nil {
		return rep, err
	}
	since, ok := s.Since.Single()
	if !ok {
		return rep, nil // closed to reads: nothing will read it
	}
	var run []state.Batch
	for _, b := range s.Batches {
		if u, ok := b.Upper.Single(); !ok || u > since {
			break
		}
		run = append(run, b)
	}
	return c.compactRun(ctx, m, run, since)
}

// compactRun merges batches, consecutive in the shard's state, into one
// batch whose rows are theirs consolidated, with times before since advanced
// to it, written as blob parts. It reads one part of each batch at a time,
// so its memory is bounded by the batches' count and the part size, not by
// their rows. Losing a race to another compaction of the same batches is
// not an error: the new parts are deleted and BatchesMerged is 0.
func (c *Client) compactRun(ctx context.Context, m *machine, batches []state.Batch, since frontier.Time) (CompactReport, error) {
	var rep CompactReport
	shard := m.shard
	var replaced []string
	runs := make([]run, len(batches))
	if err := refuseUnknown(batches); err != nil {
		return rep, fmt.Errorf("persist: compact %s: %w", shard, err)
	}
	for i, b := range batches {
		for _, p := range b.Parts {
			replaced = append(replaced, p.Key)
		}
		// A batch's parts are one sorted run, as writeParts cut them.
		runs[i] = run{parts: b.Parts}
	}
	if len(batches) < 2 && len(replaced) < 2 && !mergesAtSince(batches) {
		return rep, nil
	}
	res, err := mergeRuns(ctx, c, shard, runs, mergeSpec{id: "compactor", target: c.opts.PartTargetSize, exact: true, since: since})
	if errors.Is(err, ErrBlobMissing) {
		// The compactor holds no seqno: a concurrent compaction may have
		// replaced these batches and GC collected them. That is a lost
		// race unless they are still in state.
		lost, herr := runReplaced(ctx, m, replaced, batches)
		if herr != nil {
			return rep, herr
		}
		if lost {
			return rep, nil
		}
	}
	if err != nil {
		// On an overflow the batches stay as they are: each is still read
		// correctly, only their sum cannot be kept in one row.
		return rep, fmt.Errorf("persist: compact %s: %w", shard, err)
	}
	parts := res.parts
	rep.RowsIn = res.rowsIn
	merged := state.Batch{
		Lower: batches[0].Lower.Clone(), Upper: batches[len(batches)-1].Upper.Clone(),
		Since: frontier.From(since), Parts: parts,
	}
	applied := false
	head, maybeCommitted, err := m.applyTracked(ctx, func(s state.State) (state.State, bool, error) {
		n, run, ok := s.ApplyCompaction(replaced, merged)
		// Newer code may have added fields to the run while it was merged:
		// the refusal above rests on the state the merge began from.
		if err := refuseUnknown(run); err != nil {
			return s, false, err
		}
		applied = ok
		return n, ok, nil
	})
	if err != nil {
		if !maybeCommitted {
			// No compare-and-set may have written the merge (see
			// WriteHandle.commit): its parts go.
			deleteParts(c, parts)
			if location.IsIndeterminate(err) {
				err = location.Determinate("persist compaction", err)
			}
		}
		return rep, fmt.Errorf("persist: compact %s: %w", shard, err)
	}
	if !applied && maybeCommitted {
		// The run is gone, perhaps replaced by this very compaction whose
		// commit was reported indeterminate: its parts may be referenced,
		// so they stay (GC or the janitor collects them if not).
		applied = len(parts) > 0 && references(head, parts[0].Key)
		if !applied {
			return rep, nil
		}
	}
	if !applied {
		deleteParts(c, parts)
		return rep, nil
	}
	rep.BatchesMerged, rep.PartsIn, rep.PartsOut, rep.RowsOut = len(batches), len(replaced), len(parts), res.rowsOut
	return rep, nil
}

// refuseUnknown returns an error if a batch of the run, or one of its
// parts, carries what this code does not know: fields newer code wrote,
// which a merged batch could not keep, or a part format it cannot read.
func refuseUnknown(batches []state.Batch) error {
	for _, b := range batches {
		if b.HasUnknown() {
			return fmt.Errorf("%w: batch [%v, %v)", ErrUnknownFields, b.Lower, b.Upper)
		}
		for _, p := range b.Parts {
			if !p.Format.Known() {
				return fmt.Errorf("%w: part %s has format %d", ErrUnknownPartFormat, p.Key, p.Format)
			}
		}
	}
	return nil
}

// mergesAtSince reports whether a run of one batch of one part is worth
// rewriting by itself: rows of one (key, val) at several times, all behind
// the since, become one row there.
func mergesAtSince(batches []state.Batch) bool {
	if len(batches) != 1 || len(batches[0].Parts) != 1 {
		return false
	}
	p := batches[0].Parts[0]
	return p.MinTime < p.MaxTime && !p.DistinctKeyVals
}

// references reports whether s references the blob key.
func references(s state.State, key string) bool {
	found := false
	s.BlobKeys(func(k string) { found = found || k == key })
	return found
}

// runReplaced reports whether the run of batches holding exactly the parts
// replaced is gone from the shard's current state.
func runReplaced(ctx context.Context, m *machine, replaced []string, run []state.Batch) (bool, error) {
	s, err := m.head(ctx)
	if err != nil {
		return false, err
	}
	_, _, present := s.ApplyCompaction(replaced, state.Batch{Lower: run[0].Lower, Upper: run[len(run)-1].Upper})
	return !present, nil
}

// CheckSince reports, writing nothing, whether moving shard's since to t
// leaves it readable and compactable there: with the times up to t
// advanced to t, whether the diffs of every (key, val) sum within the
// int64 range, both in a read at t (every batch holding a time up to t)
// and in the compaction, once the since is t, of the batches wholly behind
// t (which leaves out the rows of the batch holding t itself, so it may
// overflow where the read does not). Writes refuse such sums within one
// batch, not across batches, which would take reading the shard; and a
// since never moves back.
//
// It reads every part holding a time up to t, one part of each batch at a
// time, so its memory is bounded by the batch count and the part size, not
// by the rows. progress, if not nil, is called with the rows read so far
// once a part. A sum that does not fit is a *SinceCheckError, which wraps
// ErrDiffOverflow and the *DiffOverflowError naming the (key, val). It
// answers for t as the state is when it reads it; a t before the shard's
// since is no time a read may ask for.
func (c *Client) CheckSince(ctx context.Context, shard ShardID, t frontier.Time, progress func(rowsIn int64)) error {
	m, err := c.machine(shard)
	if err != nil {
		return err
	}
	s, err := m.head(ctx)
	if err != nil {
		return err
	}
	var runs []run
	for _, b := range s.Batches {
		if !b.Lower.LessEqual(t) {
			break // no time up to t here or after
		}
		u, ok := b.Upper.Single()
		if b.HasUnknown() {
			return fmt.Errorf("persist: check since of %s: %w: batch [%v, %v)", shard, ErrUnknownFields, b.Lower, b.Upper)
		}
		for _, p := range b.Parts {
			if !p.Format.Known() {
				return fmt.Errorf("persist: check since of %s: %w: part %s has format %d", shard, ErrUnknownPartFormat, p.Key, p.Format)
			}
		}
		behind := ok && u <= t // as Compact picks them
		parts := b.Parts
		if !behind {
			// A read at t takes no row after t: a part whose rows all are
			// is not read. (The parts left keep their order.)
			parts = slices.DeleteFunc(slices.Clone(parts), func(p state.Part) bool { return p.MinTime > t })
		}
		runs = append(runs, run{parts: parts, behind: behind})
	}
	_, err = mergeRuns(ctx, c, shard, runs, mergeSpec{exact: true, since: t, check: true, through: t, progress: progress})
	if err != nil {
		return fmt.Errorf("persist: check since of %s at %d: %w", shard, t, err)
	}
	return nil
}
