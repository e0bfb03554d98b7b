package persist

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/part"
	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
)

// Update is one (key, val, time, diff) row.
type Update = part.Update

// WriteHandle appends batches of updates to one shard. It is safe for
// concurrent use, though appends to one shard are serialized by the upper.
type WriteHandle struct {
	c  *Client
	m  *machine
	id string

	mergeErr atomic.Pointer[error] // the last automatic merge's failure
}

// OpenWriter registers a writer of shard, creating the shard if it has no
// state yet.
func (c *Client) OpenWriter(ctx context.Context, shard ShardID) (*WriteHandle, error) {
	m, err := c.machine(shard)
	if err != nil {
		return nil, err
	}
	w := &WriteHandle{c: c, m: m, id: "w-" + randomID()}
	_, err = m.apply(ctx, func(s state.State) (state.State, bool, error) {
		if _, ok := s.Writer(w.id); ok {
			return s, false, nil
		}
		return s.RegisterWriter(w.id, c.nowMs(), c.opts.LeaseDuration.Milliseconds()), true, nil
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// ID returns the writer's id as recorded in state.
func (w *WriteHandle) ID() string { return w.id }

// Upper returns the shard's upper as of the newest state this client has
// seen; it may lag other processes' writes (see FetchUpper).
func (w *WriteHandle) Upper() Frontier { return w.m.cached().Upper.Clone() }

// FetchUpper reads the shard's current upper from consensus.
func (w *WriteHandle) FetchUpper(ctx context.Context) (Frontier, error) {
	s, err := w.m.head(ctx)
	if err != nil {
		return Frontier{}, err
	}
	return s.Upper.Clone(), nil
}

// CompareAndAppend appends updates as the batch [expectedUpper, newUpper)
// if the shard's upper is exactly expectedUpper. Every update's time must be
// in that interval. The parts are written to blob first, then the batch is
// committed by compare-and-set.
//
// If the upper differs, the error is a *UpperMismatchError carrying the
// current upper, and the parts written are deleted. A commit whose outcome
// is unknown is retried with the same idempotency token, so an append that
// did land is recognized and not applied twice; if it still cannot be
// decided (including a retry that finds the upper moved and no trace of
// the batch) the error is indeterminate (location.IsIndeterminate) and the
// parts are left for the janitor, since they may be referenced.
func (w *WriteHandle) CompareAndAppend(ctx context.Context, updates []Update, expectedUpper, newUpper Frontier) error {
	if err := checkBounds(updates, expectedUpper, newUpper); err != nil {
		return notAppended(err)
	}
	updates, err := consolidate(slices.Clone(updates))
	if err != nil {
		return notAppended(fmt.Errorf("%w: %w", ErrInvalidUpdate, err))
	}
	parts, err := w.writeParts(ctx, updates)
	if err != nil {
		return notAppended(err)
	}
	return w.commit(ctx, parts, expectedUpper, newUpper)
}

// notAppended marks an error an append met before its compare-and-set as
// determinate: the batch was certainly not written, whatever the error
// says of the step that failed (a blob write that may have stored its
// part, say, whose part is deleted or left to the janitor).
func notAppended(err error) error {
	if location.IsIndeterminate(err) {
		return location.Determinate("persist append", err)
	}
	return err
}

// commit appends parts, written to blob (or inline) and consolidated, as
// the batch [expectedUpper, newUpper) by compare-and-set; see
// CompareAndAppend for the outcomes. It deletes the parts when they are
// certainly not committed.
func (w *WriteHandle) commit(ctx context.Context, parts []state.Part, expectedUpper, newUpper Frontier) error {
	b := state.Batch{
		Lower: expectedUpper.Clone(), Upper: newUpper.Clone(), Parts: parts,
		WriterID: w.id, Token: randomID(),
	}
	var (
		outcome        state.AppendOutcome
		overCap        bool
		maybeCommitted bool
		err            error
	)
	for {
		_, maybeCommitted, err = w.m.applyTracked(ctx, func(s state.State) (state.State, bool, error) {
			next, out := s.CompareAndAppend(b, w.c.nowMs(), w.c.opts.LeaseDuration.Milliseconds())
			outcome, overCap = out, false
			if out == state.Appended && inlineBytes(b.Parts) > 0 && next.InlineBytes() > w.c.opts.InlineTotalMaxBytes {
				// writeParts judged the room by a state that other
				// clients' appends have since filled: the part goes to
				// blob instead, and the append tries again.
				overCap = true
				return s, false, nil
			}
			return next, out == state.Appended, nil
		})
		if err != nil || !overCap {
			break
		}
		// The state this attempt read still had the batch's lower as its
		// upper, so no earlier attempt committed the batch: its parts are
		// ours to change. They change in a copy: state.Encoder caches a
		// batch's encoding by its parts' storage, which must not change
		// under it.
		b.Parts = slices.Clone(b.Parts)
		parts = b.Parts
		if err = w.uninline(ctx, b.Parts); err != nil {
			w.deleteParts(parts)
			return fmt.Errorf("persist: append to %s: %w", w.m.shard, location.Determinate("persist compare-and-append", err))
		}
	}
	if err != nil {
		if !maybeCommitted {
			// No compare-and-set may have written the batch, whatever
			// failed (a context cancelled before any attempt, say): the
			// parts go, and the error says nothing was written.
			w.deleteParts(parts)
			if location.IsIndeterminate(err) {
				err = location.Determinate("persist compare-and-append", err)
			}
		}
		return fmt.Errorf("persist: append to %s: %w", w.m.shard, err)
	}
	switch {
	case outcome == state.Appended:
		w.merge(ctx)
		return nil
	case outcome == state.AlreadyAppended:
		return nil
	case maybeCommitted:
		// An earlier attempt may have committed the batch, and the evidence
		// the retry looks for may be gone: a later append by this writer
		// replaced its last token, compaction the batch's own. Reporting a
		// mismatch would say nothing was written; deleting the parts could
		// lose committed data.
		return fmt.Errorf("persist: append to %s: %w", w.m.shard, location.Indeterminate("persist compare-and-append",
			fmt.Errorf("a retry found upper %v, not %v, and no trace of the batch", w.m.cached().Upper, expectedUpper)))
	}
	switch outcome {
	case state.UpperMismatch:
		w.deleteParts(parts)
		return &UpperMismatchError{Expected: expectedUpper.Clone(), Current: w.m.cached().Upper.Clone()}
	default:
		w.deleteParts(parts)
		return fmt.Errorf("%w: batch [%v, %v)", ErrInvalidUpdate, expectedUpper, newUpper)
	}
}

// inlineBytes is how many bytes of parts are kept in state.
func inlineBytes(parts []state.Part) int64 {
	var n int64
	for i := range parts {
		n += int64(len(parts[i].Inline))
	}
	return n
}

// uninline makes each inline part a blob part, written to blob at the key
// writeParts chose for it. A part is a blob part before its write starts,
// so that a write that fails, having stored it or not, leaves it for
// deleteParts to delete.
func (w *WriteHandle) uninline(ctx context.Context, parts []state.Part) error {
	for i := range parts {
		p := &parts[i]
		if p.Inline == nil {
			continue
		}
		data := p.Inline
		p.Format, p.Inline = state.FormatParquetV1, nil
		if err := w.c.loc.Blob.Set(ctx, p.Key, data); err != nil {
			return fmt.Errorf("persist: write part %s: %w", p.Key, err)
		}
	}
	return nil
}

// maxMergesPerAppend bounds the merges one append runs: a cascade through
// the size levels, at most.
const maxMergesPerAppend = 4

// merge runs the merges state.MergeRun asks for on the newest state the
// writer has seen, after an append committed. It is best effort: a failed
// merge leaves its batches for a later append to merge and never fails the
// append that triggered it (MergeErr reports it).
func (w *WriteHandle) merge(ctx context.Context) {
	if w.c.opts.MergeFanIn < 2 {
		return
	}
	for range maxMergesPerAppend {
		s := w.m.cached()
		since, ok := s.Since.Single()
		if !ok {
			return // closed to reads: nothing will read it
		}
		first, end, ok := s.MergeRun(w.c.opts.MergeFanIn, w.c.opts.PartTargetSize)
		if !ok {
			w.mergeErr.Store(nil)
			return
		}
		rep, err := w.c.compactRun(ctx, w.m, s.Batches[first:end], since)
		if err != nil {
			w.mergeErr.Store(&err)
			return
		}
		if rep.BatchesMerged == 0 {
			return // lost a race; the next append looks again
		}
	}
}

// MergeErr returns the error of the writer's last automatic merge, or nil
// if it succeeded or had nothing to do. Merges run after appends (see
// ClientOptions.MergeFanIn); a failed one is retried by later appends.
func (w *WriteHandle) MergeErr() error {
	if err := w.mergeErr.Load(); err != nil {
		return *err
	}
	return nil
}

// Heartbeat renews the writer's registration (an append renews it too); a
// writer idle for longer than the lease duration is removed by GC, which
// only loses the record of its last append.
func (w *WriteHandle) Heartbeat(ctx context.Context) error {
	_, err := w.m.apply(ctx, func(s state.State) (state.State, bool, error) {
		return s.RegisterWriter(w.id, w.c.nowMs(), w.c.opts.LeaseDuration.Milliseconds()), true, nil
	})
	return err
}

// Close unregisters the writer.
func (w *WriteHandle) Close(ctx context.Context) error {
	_, err := w.m.apply(ctx, func(s state.State) (state.State, bool, error) {
		n, changed := s.RemoveWriter(w.id)
		return n, changed, nil
	})
	return err
}

func checkBounds(updates []Update, lower, upper Frontier) error {
	if !frontier.LessEqual(lower, upper) || lower.Len() > 1 || upper.Len() > 1 {
		return fmt.Errorf("%w: upper %v before lower %v", ErrInvalidUpdate, upper, lower)
	}
	for i := range updates {
		t := updates[i].Time
		if !lower.LessEqual(t) || upper.LessEqual(t) {
			return fmt.Errorf("%w: time %v outside [%v, %v)", ErrInvalidUpdate, t, lower, upper)
		}
	}
	return nil
}

// writeParts encodes consolidated updates into parts of about the target
// size and writes each to blob. On failure it deletes what it wrote.
// A single part of at most the writer's inline allowance is kept in state
// instead.
func (w *WriteHandle) writeParts(ctx context.Context, updates []Update) ([]state.Part, error) {
	inline := min(w.c.opts.InlineWriteMaxBytes, w.c.opts.InlineTotalMaxBytes-w.m.cached().InlineBytes())
	return writeParts(ctx, w.c, w.m.shard, w.id, updates, inline, w.c.opts.PartTargetSize)
}

// writeParts encodes updates into parts of about target bytes and writes
// each to blob, except that when they make one part of at most inlineMax
// bytes it is returned inline, with no blob.
func writeParts(ctx context.Context, c *Client, shard ShardID, writer string, updates []Update, inlineMax, target int64) ([]state.Part, error) {
	runs := part.Split(updates, target)
	parts := make([]state.Part, len(runs))
	for i := range parts {
		// Keys are chosen up front so a failure can delete every part that
		// may have been stored, even by a Set that failed.
		parts[i].Key = shard.partKey(writer)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(partWriteConcurrency)
	for i, run := range runs {
		g.Go(func() error {
			data, st, err := part.Encode(run)
			if err != nil {
				return fmt.Errorf("persist: encode part: %w", err)
			}
			p := &parts[i]
			p.Format = state.FormatParquetV1
			p.Bytes, p.Rows, p.MinTime, p.MaxTime = int64(len(data)), st.Rows, st.MinTime, st.MaxTime
			p.KeyLower, p.KeyUpper, p.DiffsSum = st.KeyLower, st.KeyUpper, st.DiffsSum
			p.Checksum = part.Checksum(data)
			p.DistinctKeyVals = distinctKeyVals(run)
			if len(runs) == 1 && int64(len(data)) <= inlineMax {
				p.Format, p.Inline = state.FormatParquetV1Inline, data
				return nil
			}
			if err := c.loc.Blob.Set(gctx, p.Key, data); err != nil {
				return fmt.Errorf("persist: write part %s: %w", p.Key, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		deleteParts(c, parts)
		return nil, err
	}
	return parts, nil
}

// distinctKeyVals reports whether no two neighbours of consolidated, sorted
// updates share a (key, val).
func distinctKeyVals(us []Update) bool {
	for i := 1; i < len(us); i++ {
		if bytes.Equal(us[i-1].Key, us[i].Key) && bytes.Equal(us[i-1].Val, us[i].Val) {
			return false
		}
	}
	return true
}

// partWriteConcurrency bounds the parts of one append encoded and written
// at once.
const partWriteConcurrency = 4

func (w *WriteHandle) deleteParts(parts []state.Part) { deleteParts(w.c, parts) }

// deleteParts removes parts no state references. It is best effort: what
// it fails to delete the janitor reaps later. It ignores cancellation of the
// caller's context so a cancelled append still cleans up.
func deleteParts(c *Client, parts []state.Part) {
	ctx := context.Background()
	for _, p := range parts {
		if p.IsInline() {
			continue
		}
		c.loc.Blob.Delete(ctx, p.Key)
	}
}
