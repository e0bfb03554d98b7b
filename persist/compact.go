package persist

import (
	"context"
	"errors"
	"fmt"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/part"
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

// compactRun merges run, consecutive batches of the shard's state, into one
// batch whose rows are theirs consolidated, with times before since advanced
// to it, written as blob parts. Losing a race to another compaction of the
// same batches is not an error: the new parts are deleted and
// BatchesMerged is 0.
func (c *Client) compactRun(ctx context.Context, m *machine, run []state.Batch, since frontier.Time) (CompactReport, error) {
	var rep CompactReport
	shard := m.shard
	var replaced []string
	var updates []Update
	var decoded []*part.Decoded
	defer func() {
		for _, d := range decoded {
			d.Release()
		}
	}()
	for _, b := range run {
		if b.HasUnknown() {
			return rep, fmt.Errorf("persist: compact %s: %w: batch [%v, %v)", shard, ErrUnknownFields, b.Lower, b.Upper)
		}
		for _, p := range b.Parts {
			replaced = append(replaced, p.Key)
			if !p.Format.Known() {
				return rep, fmt.Errorf("persist: compact %s: %w: part %s has format %d", shard, ErrUnknownPartFormat, p.Key, p.Format)
			}
		}
	}
	if len(run) < 2 && len(replaced) < 2 {
		return rep, nil
	}
	for _, b := range run {
		for _, p := range b.Parts {
			d, err := c.fetchDecoded(ctx, shard, partDesc(p, b), "")
			if errors.Is(err, ErrBlobMissing) {
				// The compactor holds no seqno: a concurrent compaction
				// may have replaced this run and GC collected it. That is
				// a lost race unless the run is still in state.
				lost, herr := runReplaced(ctx, m, replaced, run)
				if herr != nil {
					return rep, herr
				}
				if lost {
					return rep, nil
				}
			}
			if err != nil {
				return rep, fmt.Errorf("persist: compact %s: %w", shard, err)
			}
			decoded = append(decoded, d)
			rep.RowsIn += int64(d.Len())
			for i := range d.Len() {
				updates = append(updates, Update{Key: d.Key(i), Val: d.Val(i), Time: max(d.Time(i), since), Diff: d.Diff(i)})
			}
		}
	}
	updates, err := consolidate(updates)
	if err != nil {
		// The batches stay as they are: each is still read correctly,
		// only their sum cannot be kept in one row.
		return rep, fmt.Errorf("persist: compact %s: %w", shard, err)
	}
	parts, err := writeParts(ctx, c, shard, "compactor", updates, 0, c.opts.PartTargetSize)
	if err != nil {
		return rep, fmt.Errorf("persist: compact %s: %w", shard, err)
	}
	merged := state.Batch{
		Lower: run[0].Lower.Clone(), Upper: run[len(run)-1].Upper.Clone(),
		Since: frontier.From(since), Parts: parts,
	}
	applied := false
	head, maybeCommitted, err := m.applyTracked(ctx, func(s state.State) (state.State, bool, error) {
		n, ok := s.ApplyCompaction(replaced, merged)
		applied = ok
		return n, ok, nil
	})
	if err != nil {
		if !location.IsIndeterminate(err) {
			deleteParts(c, parts)
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
	rep.BatchesMerged, rep.PartsIn, rep.PartsOut, rep.RowsOut = len(run), len(replaced), len(parts), int64(len(updates))
	return rep, nil
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
	_, present := s.ApplyCompaction(replaced, state.Batch{Lower: run[0].Lower, Upper: run[len(run)-1].Upper})
	return !present, nil
}
