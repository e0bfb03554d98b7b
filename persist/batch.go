package persist

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
)

// Defaults of a BatchBuilder's memory bounds.
const (
	// DefaultBatchBufferBytes is how many bytes of updates (keys, values
	// and the Update structs) a BatchBuilder holds before it writes them
	// out as a sorted run. A batch merged from runs is cut into parts of
	// at most this size, or PartTargetSize if smaller.
	DefaultBatchBufferBytes = 64 << 20
	// runPartSize is the size the parts of a builder's sorted runs are cut
	// at: merging runs holds one decoded part of each in memory.
	runPartSize = 4 << 20
	// runFanIn is how many runs one merge pass reads at once.
	runFanIn = 16
)

// ErrBuilderDone is returned by a BatchBuilder used after AppendBatch or
// Abort.
var ErrBuilderDone = errors.New("persist: batch builder already appended or aborted")

// ErrBuilderSealed is returned by Add after Seal.
var ErrBuilderSealed = errors.New("persist: batch builder sealed: nothing more can be added")

// BatchBuilder collects the updates of one batch, any number of them, in
// bounded memory, for WriteHandle.AppendBatch: the batch a CompareAndAppend
// of the same updates would write, without the updates all in memory at
// once. Updates are buffered; whenever the buffer holds BufferBytes they are
// sorted, consolidated and written to blob as a run, and AppendBatch merges
// the runs into one consolidated batch (an external merge sort: inputs
// larger than the buffer are written twice, or more for more than 16 times
// the buffer).
//
// A BatchBuilder is not safe for concurrent use. Its runs are blobs no state
// references until the append commits: Abort deletes them, and after a
// crash the janitor does, so a janitor must not run with a minimum age
// shorter than a builder lives. A blob it reaps fails the append with
// ErrBlobMissing, and nothing wrong is written, unless it reaps one of the
// batch's parts between AppendBatch's check that they are all there and
// its commit (which retries a lost race, so that may take a while).
type BatchBuilder struct {
	c     *Client
	shard ShardID
	id    string // names the builder's blobs
	lower Frontier

	bufferBytes int64
	runPart     int64 // the parts of runs are cut at this size
	fanIn       int

	buf     []Update
	bufSize int64
	runs    []run
	added   int64
	maxTime frontier.Time
	err     error // sticky: a failed flush or Seal, or ErrBuilderDone
	sealed  bool

	progress func(MergeProgress) // see SetMergeProgress
}

// run is a sorted, consolidated sequence of parts written by a builder.
// apart says some (key, val, time) has several rows, because their diffs
// summed out of the int64 range within the run: only the final merge may
// decide whether the batch's total fits.
type run struct {
	parts []state.Part
	apart bool
	// behind marks, for CheckSince, the run of a batch wholly behind the
	// since checked: one its compaction would merge.
	behind bool
}

// NewBatchBuilder returns a builder of a batch of shard starting at lower,
// the upper the append will expect. bufferBytes bounds the updates held in
// memory (0: DefaultBatchBufferBytes).
func (c *Client) NewBatchBuilder(shard ShardID, lower Frontier, bufferBytes int64) *BatchBuilder {
	if bufferBytes <= 0 {
		bufferBytes = DefaultBatchBufferBytes
	}
	return &BatchBuilder{
		c: c, shard: shard, id: "b-" + randomID(), lower: lower.Clone(),
		bufferBytes: bufferBytes, runPart: min(runPartSize, c.opts.PartTargetSize), fanIn: runFanIn,
	}
}

// Lower returns the upper the batch's append expects.
func (b *BatchBuilder) Lower() Frontier { return b.lower.Clone() }

// Len returns how many updates have been added.
func (b *BatchBuilder) Len() int64 { return b.added }

// Add adds an update. Its time must not be before the builder's lower (an
// error wrapping ErrInvalidUpdate, which leaves the builder as it was). The
// builder keeps u.Key and u.Val, which the caller must not change. Add
// writes a run to blob when the buffer is full; an error doing so is
// returned by every later call, and the caller should Abort.
func (b *BatchBuilder) Add(ctx context.Context, u Update) error {
	if b.err != nil {
		return b.err
	}
	if b.sealed {
		return ErrBuilderSealed
	}
	if !b.lower.LessEqual(u.Time) {
		return fmt.Errorf("%w: time %v is before the batch's lower %v", ErrInvalidUpdate, u.Time, b.lower)
	}
	if b.added == 0 || u.Time > b.maxTime {
		b.maxTime = u.Time
	}
	b.added++
	b.buf = append(b.buf, u)
	b.bufSize += bufferedSize(u)
	if b.bufSize >= b.bufferBytes {
		if err := b.flush(ctx); err != nil {
			b.err = err
			return err
		}
	}
	return nil
}

// bufferedSize is the memory an update takes in the buffer: its key and
// value, and the Update itself.
func bufferedSize(u Update) int64 {
	return int64(len(u.Key)+len(u.Val)) + int64(unsafe.Sizeof(u))
}

// flush writes the buffer as a run and empties it.
func (b *BatchBuilder) flush(ctx context.Context) error {
	us, apart, _ := consolidateRows(b.buf, false) // keeps apart: never fails
	if len(us) > 0 {
		parts, err := writeParts(ctx, b.c, b.shard, b.id, us, -1, b.runPart)
		if err != nil {
			return err
		}
		b.runs = append(b.runs, run{parts: parts, apart: apart})
	}
	clear(b.buf) // let the keys and values go
	b.buf, b.bufSize = b.buf[:0], 0
	return nil
}

// SetMergeProgress has AppendBatch (or Seal) call f as it merges the
// builder's runs, for a progress display: the merge of an input larger
// than the buffer is most of the work done after the last Add. f is called
// on AppendBatch's (or Seal's) goroutine, each time the merge reads a part of a run (some tens of
// thousands of rows with the default sizes) and once when each pass begins
// and when the merge ends, with how far it got (see MergeProgress). It is
// not called when there is nothing to merge: when every update fit in the
// buffer, or the updates were written as a single run. f must not use the
// builder; nil turns reporting off. Reporting changes nothing written.
func (b *BatchBuilder) SetMergeProgress(f func(MergeProgress)) { b.progress = f }

// Seal finishes the batch without appending it, doing now the work
// AppendBatch would do before its commit, so that a caller learns whether
// the batch can be appended before it opens a writer (which registers the
// shard). A batch that outgrew the buffer has its buffered updates written
// and its runs merged into the batch's parts, with progress reported as
// SetMergeProgress says; one that fits in memory is consolidated. An error
// (a *DiffOverflowError, a failed blob write, ctx ended) is sticky, like a
// failed Add's, and the caller should Abort. After Seal, Add returns
// ErrBuilderSealed, and AppendBatch commits the sealed batch, after
// checking that its blobs are still there. Seal is idempotent.
func (b *BatchBuilder) Seal(ctx context.Context) error {
	if b.err != nil || b.sealed {
		return b.err
	}
	b.sealed = true
	if len(b.runs) == 0 {
		us, err := consolidate(b.buf)
		if err != nil {
			b.err = fmt.Errorf("%w: %w", ErrInvalidUpdate, err)
			return b.err
		}
		b.buf = us
		return nil
	}
	if err := b.flush(ctx); err != nil {
		b.err = err
		return err
	}
	parts, err := b.merge(ctx)
	if err != nil {
		b.err = err
		return err
	}
	// The runs a final merge read are left in b.runs; the batch's parts
	// become its only run, which AppendBatch's merge takes as it is and
	// Abort deletes.
	for _, r := range b.runs {
		deleteParts(b.c, r.parts)
	}
	b.runs = []run{{parts: parts}}
	return nil
}

// Abort deletes the runs the builder wrote. It is best effort (the janitor
// removes what it misses) and idempotent; after it the builder may not be
// used.
func (b *BatchBuilder) Abort() {
	for _, r := range b.runs {
		deleteParts(b.c, r.parts)
	}
	b.runs, b.buf, b.err = nil, nil, ErrBuilderDone
}

// AppendBatch appends the updates b collected as the batch [b.Lower(),
// newUpper), exactly as CompareAndAppend would append them (see it for the
// errors), and uses b up whatever the outcome: on failure b's runs are
// deleted. Every update's time must be before newUpper.
func (w *WriteHandle) AppendBatch(ctx context.Context, b *BatchBuilder, newUpper Frontier) error {
	if err := b.err; err != nil {
		b.Abort()
		return notAppended(err)
	}
	defer b.Abort()
	if b.c != w.c || b.shard != w.m.shard {
		return notAppended(fmt.Errorf("persist: append to %s: the batch was built for shard %s of another client", w.m.shard, b.shard))
	}
	if err := checkBounds(nil, b.lower, newUpper); err != nil {
		return notAppended(err)
	}
	if b.added > 0 && newUpper.LessEqual(b.maxTime) {
		return notAppended(fmt.Errorf("%w: time %v outside [%v, %v)", ErrInvalidUpdate, b.maxTime, b.lower, newUpper))
	}
	if len(b.runs) == 0 {
		// Everything fits in memory: the plain append, inline parts and
		// all.
		return w.CompareAndAppend(ctx, b.buf, b.lower, newUpper)
	}
	if err := b.flush(ctx); err != nil {
		return notAppended(err)
	}
	parts, err := b.merge(ctx)
	if err != nil {
		return notAppended(err)
	}
	if err := b.checkBlobs(ctx, parts); err != nil {
		deleteParts(b.c, parts)
		return notAppended(err)
	}
	return w.commit(ctx, parts, b.lower, newUpper)
}

// checkBlobs fails, with ErrBlobMissing, if a blob of the batch about to
// be committed is gone. Its parts are blobs no state references yet, and
// they may be old: a single run becomes the batch unread, written when the
// builder flushed it, and a long final merge wrote its first parts long
// before its last. A janitor whose minimum age is shorter than that may
// have reaped them. The checks run existsConcurrency at a time: on an
// object store each is a round trip, and a large batch has hundreds of
// parts. A missing part is the error reported whatever the other checks
// return (it stops them, and they may fail for that).
func (b *BatchBuilder) checkBlobs(ctx context.Context, parts []state.Part) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(parts))
	var g errgroup.Group
	g.SetLimit(existsConcurrency)
	for i, p := range parts {
		if p.Inline != nil || ctx.Err() != nil {
			continue
		}
		g.Go(func() error {
			ok, err := blobExists(ctx, b.c.loc.Blob, p.Key)
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("persist: append to %s: checking part %s: %w", b.shard, p.Key, err)
			case !ok:
				errs[i] = fmt.Errorf("persist: append to %s: part %s: %w: deleted before the batch was committed (a janitor's minimum age shorter than the builder's life?)", b.shard, p.Key, ErrBlobMissing)
				cancel()
			}
			return nil
		})
	}
	g.Wait()
	var first error
	for _, err := range errs {
		if errors.Is(err, ErrBlobMissing) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	// A check skipped because ctx ended is no answer either.
	return context.Cause(ctx)
}

// existsConcurrency bounds the existence checks of one AppendBatch in
// flight at once.
const existsConcurrency = 16

// blobExists reports whether key has a value in bl, by its Exists if it
// has one and by listing the key as a prefix otherwise.
func blobExists(ctx context.Context, bl location.Blob, key string) (bool, error) {
	if e, ok := bl.(location.Exister); ok {
		return e.Exists(ctx, key)
	}
	found := false
	err := bl.List(ctx, key, func(m location.BlobMeta) error {
		found = found || m.Key == key
		return nil
	})
	return found, err
}

// isFinal reports whether runs need no merge to be a batch: a single run
// with no rows kept apart.
func isFinal(runs []run) bool { return len(runs) == 1 && !runs[0].apart }

// merge merges the builder's runs into the batch's parts: one run, exactly
// consolidated. Its parts are the runs' own if there is a single run with no
// rows kept apart; otherwise they are new, and the runs are deleted.
func (b *BatchBuilder) merge(ctx context.Context) ([]state.Part, error) {
	var pr *mergeReport
	if b.progress != nil && !isFinal(b.runs) {
		pr = newMergeReport(b.progress, b.runs, b.fanIn)
	}
	for len(b.runs) > b.fanIn {
		// A pass merges groups of fanIn runs, keeping rows whose sum
		// overflows apart, until one final merge can read them all.
		// b.runs always lists every run that exists, for Abort.
		var next []run
		pr.startPass(b.runs, false)
		for len(b.runs) > 0 {
			n := min(b.fanIn, len(b.runs))
			if n == 1 {
				next, b.runs = append(next, b.runs[0]), b.runs[1:]
				continue
			}
			r, err := mergeRuns(ctx, b.c, b.shard, b.runs[:n], mergeSpec{id: b.id, target: b.runPart, progress: pr.reading()})
			if err != nil {
				b.runs = append(next, b.runs...)
				return nil, fmt.Errorf("persist: append to %s: %w", b.shard, err)
			}
			for _, old := range b.runs[:n] {
				deleteParts(b.c, old.parts)
			}
			next, b.runs = append(next, r.run), b.runs[n:]
			pr.merged(r.rowsIn)
		}
		b.runs = next
	}
	if isFinal(b.runs) {
		parts := b.runs[0].parts
		b.runs = nil // now the batch's: Abort must not delete them
		return parts, nil
	}
	// The final merge holds a part's worth of rows: parts no larger than
	// the buffer keep the builder's memory within a few buffers.
	target := min(b.c.opts.PartTargetSize, max(b.bufferBytes, runPartSize))
	pr.startPass(b.runs, true)
	r, err := mergeRuns(ctx, b.c, b.shard, b.runs, mergeSpec{id: b.id, target: target, exact: true, progress: pr.reading()})
	if errors.Is(err, ErrDiffOverflow) {
		return nil, fmt.Errorf("persist: append to %s: %w: %w", b.shard, ErrInvalidUpdate, err)
	}
	if err != nil {
		return nil, fmt.Errorf("persist: append to %s: %w", b.shard, err)
	}
	pr.merged(r.rowsIn)
	pr.finish()
	return r.parts, nil
}
