package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

type gcFlags struct {
	shard   string
	minAge  time.Duration
	compact bool
	since   string
}

func newGCCmd(g *globals) *cobra.Command {
	var f gcFlags
	cmd := &cobra.Command{
		Use:   "gc --shard NAME [--since T] [--min-age DURATION] [--compact=false]",
		Short: "Compact history and collect garbage: expired readers, unreachable versions and blobs, orphans",
		Long: `gc shrinks a shard's storage in up to four steps, each reported on one
line of its output.

With --since T, gc first advances the shard's since to T: the promise that
no replay will ask for a time before T, which is what lets history before T
be compacted. The since moves only as far as every registered reader
allows, never back, and only to a time before the upper (a time at or past
the upper cannot be read yet). It first reads the shard's parts up to T,
and refuses if the diffs of some key and value, advanced to T, sum out of
the int64 range (writes check that within one batch, not across batches):
in a read at T, which would fail, or in the batches wholly behind T,
whose compaction would then fail at every gc. A shard's since moves only
this way or when a reader of the library downgrades it.

gc then compacts (unless --compact=false): the batches wholly behind the
shard's since are merged into one, their rows advanced to the since and
consolidated, so history no reader can ask for stops costing space.

It then runs garbage collection: readers and writers whose lease ran out
are expired, blobs referenced only by state versions older than every
reader's seqno hold are deleted, and those versions are truncated.

It then runs the orphan janitor: part blobs under the shard that no state
version references and that are older than --min-age are deleted, such as
the parts of a writer that died before committing (keys shardflow does not
name as parts, another location's nested in this one, are left). --min-age
must exceed the longest time a live writer takes between writing a part
and committing it, or an in-flight write could lose its parts.

A shard's first write that died before committing (killed, or on a machine
that crashed) leaves blobs but no shard: gc of that name then runs the
janitor alone, and fails as for any unknown shard if there are no blobs.`,
		Example: `  shardflow gc --shard fruit
  shardflow gc --shard fruit --since 100   # forget the history before time 100
  shardflow gc --shard fruit --min-age 1h`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			err := runGC(ctx, g, f)
			if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				// Each step commits on its own: what is done is kept.
				return failure(errGCInterrupted)
			}
			return readOnlyRefused("gc", "nothing was changed", err)
		},
	}
	addShardFlag(cmd, &f.shard)
	cmd.Flags().DurationVar(&f.minAge, "min-age", 15*time.Minute, "the janitor deletes unreferenced blobs only when older than this")
	cmd.Flags().BoolVar(&f.compact, "compact", true, "merge the batches behind the since first")
	cmd.Flags().StringVar(&f.since, "since", "", "advance the shard's since to this time first (no replay may then read before it)")
	return cmd
}

func runGC(ctx context.Context, g *globals, f gcFlags) error {
	id, err := shardID(f.shard)
	if err != nil {
		return err
	}
	if f.minAge < 0 {
		return usageErrorf("--min-age: must not be negative, got %v", f.minAge)
	}
	since, err := optionalTime("--since", f.since)
	if err != nil {
		return err
	}
	st, err := g.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	exists, err := st.exists(ctx, id)
	if err != nil {
		return err
	}
	w := &reportWriter{w: g.env.Stdout}
	if !exists {
		if since != nil {
			return st.errNoShard(id)
		}
		if err := janitorWithoutState(ctx, st, id, f.minAge, w); err != nil {
			return err
		}
		return w.failed(nil)
	}
	if since != nil {
		if err := advanceSince(ctx, g, st.client, id, frontier.Time(*since), w); err != nil {
			return err
		}
	}
	// A compaction refused for its data (diffs that would sum out of
	// range, a part missing or corrupt) leaves the shard as it was:
	// collect the garbage anyway, then fail.
	var compactErr error
	if f.compact {
		c, err := st.client.Compact(ctx, id)
		switch {
		case errors.Is(err, persist.ErrDiffOverflow):
			compactErr = overflowError(err)
			fmt.Fprintf(w, "compact: merged nothing: %v\n", compactErr)
		case errors.Is(err, persist.ErrBlobMissing) || errors.Is(err, persist.ErrBlobCorrupt):
			compactErr = fmt.Errorf("%w (gc and the janitor ran; '%s' lists the parts that cannot be read, and --compact=false skips compaction)", err, g.commandLine("inspect", "--shard", string(id), "--verify"))
			fmt.Fprintf(w, "compact: merged nothing: %v\n", err)
		case err != nil:
			return failure(err)
		default:
			fmt.Fprintf(w, "compact: merged %d batches, %d parts -> %d, %d rows -> %d\n", c.BatchesMerged, c.PartsIn, c.PartsOut, c.RowsIn, c.RowsOut)
		}
	}
	gc, err := st.client.GC(ctx, id)
	if err != nil {
		return failure(errors.Join(compactErr, err))
	}
	fmt.Fprintf(w, "gc: expired %d readers %v\n", len(gc.ExpiredReaders), gc.ExpiredReaders)
	fmt.Fprintf(w, "gc: deleted %d blobs, truncated %d state versions before seqno %d\n", gc.BlobsDeleted, gc.VersionsTruncated, gc.SeqNoHold)
	jr, err := st.client.Janitor(ctx, id, f.minAge)
	if err != nil {
		return failure(errors.Join(compactErr, err))
	}
	printJanitor(w, jr, f.minAge)
	return w.failed(compactErr)
}

// janitorWithoutState runs the janitor alone on a shard with no state,
// whose blobs, if it has any, are the parts of a first write that died
// before committing: nothing references them. A shard with neither state
// nor blobs does not exist.
func janitorWithoutState(ctx context.Context, st *store, id persist.ShardID, minAge time.Duration, w *reportWriter) error {
	jr, err := st.client.Janitor(ctx, id, minAge)
	if err != nil {
		return failure(err)
	}
	if jr.Listed == jr.Foreign {
		return st.errNoShard(id)
	}
	fmt.Fprintf(w, "janitor: shard %q has no state, only the blobs of a first write that never committed\n", id)
	printJanitor(w, jr, minAge)
	return nil
}

// printJanitor writes the line of gc's report that says what the
// janitor did.
func printJanitor(w io.Writer, jr persist.JanitorReport, minAge time.Duration) {
	fmt.Fprintf(w, "janitor: listed %d blobs, %d orphans older than %v, deleted %d (%d temp files)\n", jr.Listed, jr.OrphansFound, minAge, jr.OrphansReaped, jr.TempReaped)
	if jr.Foreign > 0 {
		fmt.Fprintf(w, "janitor: left %d keys under the shard's prefix that shardflow does not name as parts (another location nested in this one?)\n", jr.Foreign)
	}
}

// reportWriter keeps the first error of the writes made through it, so a
// report printed line by line can be checked once at its end.
type reportWriter struct {
	w   io.Writer
	err error
}

// failed is gc's failure: err, and that the report could not be written if
// one of its writes failed.
func (r *reportWriter) failed(err error) error {
	if r.err != nil {
		err = errors.Join(err, fmt.Errorf("gc ran, but its report could not be written: %w", r.err))
	}
	return failure(err)
}

func (r *reportWriter) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.w.Write(p)
	r.err = err
	return n, err
}

// advanceSince moves the shard's since to t as far as its readers allow: it
// registers a reader, downgrades that reader's since to t and expires it.
// The shard since is the meet of its readers' sinces and never regresses,
// so it stays at t once the reader is gone. A t at or past the upper is
// refused: no replay could read there yet; so is a t where the shard could
// not be read (see checkSince).
func advanceSince(ctx context.Context, g *globals, client *persist.Client, id persist.ShardID, t frontier.Time, w io.Writer) (err error) {
	before, err := client.State(ctx, id)
	if err != nil {
		return failure(err)
	}
	if before.Upper.LessEqual(t) {
		upper := before.Upper.Elements()[0]
		if upper == 0 {
			return failure(fmt.Errorf("--since %d: shard %q has no readable time yet (its upper is [0])", t, id))
		}
		return failure(fmt.Errorf("--since %d: the upper of shard %q is %s, and the since must be before it (at most %d)",
			t, id, render.FrontierJSON(times(before.Upper)), upper-1))
	}
	r, err := client.OpenReader(ctx, id, "shardflow gc --since")
	if err != nil {
		return failure(err)
	}
	expired := false
	defer func() {
		if !expired {
			err = errors.Join(err, failure(r.Expire(context.WithoutCancel(ctx))))
		}
	}()
	// Checked under r's seqno hold: no GC deletes a part the check reads.
	if s, ok := before.Since.Single(); ok && s < t {
		if err := checkSince(ctx, g, client, before, t); err != nil {
			return err
		}
	}
	if err := r.DowngradeSince(ctx, frontier.From(t)); err != nil {
		return failure(err)
	}
	expired = true
	if err := r.Expire(context.WithoutCancel(ctx)); err != nil {
		return failure(err)
	}
	after, err := client.State(ctx, id)
	if err != nil {
		return failure(err)
	}
	fmt.Fprintf(w, "since: %s -> %s", render.FrontierJSON(times(before.Since)), render.FrontierJSON(times(after.Since)))
	switch {
	case after.Since.LessThan(t):
		fmt.Fprintf(w, " (held back by readers: %d registered)", len(after.Readers))
	case !before.Since.LessEqual(t):
		fmt.Fprintf(w, " (already past %d: the since never goes back)", t)
	}
	fmt.Fprintln(w)
	return nil
}

// checkSince refuses to move the since of the shard cur describes to t
// where the diffs of some (key, val) up to t sum out of the int64 range
// (writes refuse that within one batch, not across batches): in a read at
// t, which would fail, or in the batches wholly behind t, whose
// compaction, which every gc would try, would fail. The since never moves
// back. It reads the shard's parts up to t, with a progress bar.
func checkSince(ctx context.Context, g *globals, client *persist.Client, cur persist.ShardState, t frontier.Time) error {
	var total int64
	for _, b := range cur.Batches {
		if !b.Lower.LessEqual(t) {
			break
		}
		for _, p := range b.Parts {
			total += p.Rows
		}
	}
	bar := g.newProgress(total, fmt.Sprintf("checking the diffs up to %d", t), false)
	err := client.CheckSince(ctx, cur.Shard, t, func(rows int64) { bar.Set(rows, total) })
	bar.Done()
	var se *persist.SinceCheckError
	switch {
	case errors.As(err, &se) && se.Read:
		return failure(fmt.Errorf("--since %d refused: %w, so shard %q could not be read at %d; the since was not moved", t, overflowError(err), cur.Shard, t))
	case errors.As(err, &se):
		return failure(fmt.Errorf("--since %d refused: in the batches wholly behind it %w, so once the since were there every compaction of shard %q would fail; the since was not moved", t, overflowError(err), cur.Shard))
	case err != nil:
		return failure(err)
	}
	return nil
}

// errGCInterrupted is gc's failure when SIGINT or SIGTERM stops it.
var errGCInterrupted = errors.New("gc: interrupted; each step it finished is kept, and it can be run again")

// overflowError says what a *persist.DiffOverflowError in err says with the
// key and value as the records spell them, as replay's printer does.
func overflowError(err error) error {
	var oe *persist.DiffOverflowError
	if !errors.As(err, &oe) {
		return err
	}
	return &render.DiffOverflowError{Key: oe.Key, Val: oe.Val, Time: uint64(oe.Time), Up: oe.Above}
}
