package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/records"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
)

type writeFlags struct {
	shard       string
	input       string
	format      string
	upper       string
	inlineMax   int64
	bufferBytes int64
}

func newWriteCmd(g *globals) *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:   "write --shard NAME [--input FILE|-] [--format jsonl|csv] [--upper T]",
		Short: "Append one batch of updates to a shard",
		Long: `write appends the updates read from --input (default: standard input) to
the shard as one batch covering the times [current upper, --upper). The shard
is created on its first write.

JSONL input (UTF-8, like CSV) is one object per line:
  {"key": <any JSON>, "val": <any JSON>, "time": <uint64>, "diff": <int64>}
where diff is optional and defaults to 1 (insert; -1 retracts). CSV input has
a header naming the columns key, val, time and optionally diff; a key or val
cell holds JSON, and a cell that is not valid JSON is taken as a string. A
JSON string may not escape half of a surrogate pair alone (\ud800): JSON
decoders read every such escape as U+FFFD, so distinct keys would merge.

Keys and values are stored as canonical JSON: compact, object members sorted
by name, strings with no needless escapes, but numbers as written. So 1, 1.0
and 1e0 are three keys: a retraction must spell a number as its insert did.

--upper defaults to the largest time in the input plus one. Nothing is
written, and the command fails, if a line is malformed (its line number is
reported), if a time lies outside [current upper, --upper), if --upper is
not beyond the current upper, or if the diffs of one key, val and time sum
outside the int64 range. An empty input with --upper just advances the
upper, closing the times before it.

The input is read as a stream: at most about --buffer-bytes of updates are
held in memory, and a larger input is written out as sorted runs that are
merged into the batch before it is committed. A failed or interrupted write
deletes them. Once the batch is sealed, an interrupt no longer stops the
write: its commit, which takes milliseconds, finishes (a second interrupt
kills the process).

A batch that encodes to at most --inline-max-bytes is kept in the shard's
state rather than written as a blob file: one commit instead of a file write
and a commit. A shard keeps at most 256 KiB inline in all, whatever the
flag says: each commit rewrites the state. Later writes merge small batches
into blob parts.`,
		Example: `  # Insert two updates at time 0 and 1; the shard's upper becomes 2.
  printf '%s\n' '{"key":"apple","val":3,"time":0}' '{"key":"pear","val":1,"time":1}' |
    shardflow write --shard fruit

  # Retract one and insert another at time 5, closing times up to 9.
  shardflow write --shard fruit --input more.jsonl --upper 10

  # CSV with a header.
  shardflow write --shard fruit --format csv --input updates.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWrite(cmd.Context(), g, f)
		},
	}
	addShardFlag(cmd, &f.shard)
	cmd.Flags().StringVarP(&f.input, "input", "i", "-", "file to read updates from, - for standard input")
	cmd.Flags().StringVar(&f.format, "format", "jsonl", "input format: jsonl or csv")
	cmd.Flags().StringVar(&f.upper, "upper", "", "the batch's upper (default: largest time + 1)")
	cmd.Flags().Int64Var(&f.bufferBytes, "buffer-bytes", persist.DefaultBatchBufferBytes, "hold at most about this many bytes of updates in memory: a larger input is written as sorted runs and merged")
	cmd.Flags().Int64Var(&f.inlineMax, "inline-max-bytes", 4<<10, "keep a batch of at most this many encoded bytes in the shard's state, not in a blob (0: always a blob)")
	return cmd
}

func runWrite(ctx context.Context, g *globals, f writeFlags) error {
	id, err := shardID(f.shard)
	if err != nil {
		return err
	}
	format, err := records.ParseFormat(f.format)
	if err != nil {
		return usageErrorf("--format: unknown input format %q (want jsonl or csv)", f.format)
	}
	var upperFlag *uint64
	if f.upper != "" {
		u, err := strconv.ParseUint(f.upper, 10, 64)
		if err != nil {
			return usageErrorf("--upper: want an unsigned integer, got %q", f.upper)
		}
		upperFlag = &u
	}
	if f.bufferBytes <= 0 {
		return usageErrorf("--buffer-bytes: want more than 0, got %d", f.bufferBytes)
	}
	if f.inlineMax < 0 {
		return usageErrorf("--inline-max-bytes: want 0 or more, got %d", f.inlineMax)
	}
	in, err := g.openInput(ctx, f.input, format)
	if err != nil {
		return failure(err)
	}
	defer in.stop()

	opts := clientOptions
	opts.InlineWriteMaxBytes = f.inlineMax
	if f.inlineMax == 0 {
		opts.InlineWriteMaxBytes = -1 // persist's 0 means its default
	}
	st, err := g.openWith(ctx, true, opts)
	if err != nil {
		return interruptedOr(ctx, err)
	}
	defer st.Close()
	cur, err := st.client.State(ctx, id)
	if err != nil {
		return interruptedOr(ctx, err)
	}
	lower, ok := cur.Upper.Single()
	if !ok {
		return failure(fmt.Errorf("shard %q is closed (its upper is []): nothing more can be written", id))
	}
	if upperFlag != nil && *upperFlag <= uint64(lower) {
		return failure(notBeyond(*upperFlag, uint64(lower)))
	}
	b := st.client.NewBatchBuilder(id, frontier.From(lower), f.bufferBytes)
	maxTime, err := feed(ctx, in, b, uint64(lower), upperFlag)
	if err != nil {
		b.Abort()
		return failure(err)
	}
	in.stop() // the input is read: its bar goes, the merge's may come
	upper, err := batchUpper(b.Len(), maxTime, upperFlag)
	if err != nil {
		b.Abort()
		return failure(err)
	}

	n := b.Len()
	// The batch is sealed (sorted, merged, its sums checked) before the
	// writer opens, which registers the shard: a batch that cannot be
	// appended, or a write interrupted while it merges, leaves no shard
	// behind.
	merging := &mergeBar{g: g, waiting: g.newProgress(-1, sortingDesc, false)}
	b.SetMergeProgress(merging.report)
	appendErr := b.Seal(ctx)
	merging.Done()
	if appendErr != nil && location.IsIndeterminate(appendErr) {
		// A part write that may have landed: the batch was not appended.
		appendErr = location.Determinate("write", appendErr)
	}
	var mismatch *persist.UpperMismatchError
	var overflow *persist.DiffOverflowError
	var closeErr error
	switch {
	case ctx.Err() != nil && !errors.As(appendErr, &overflow):
		// Interrupted before the commit, while the batch was sealed or
		// just after: nothing is committed.
		b.Abort()
		return failure(errInterrupted)
	case appendErr == nil:
		// From here on an interrupt does not stop the write: registering
		// the shard and committing the batch take milliseconds, and cut
		// short they would leave an empty shard, or no way to tell
		// whether the batch landed. A second interrupt kills the process.
		// The merges that follow some commits run within the same bound.
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
		w, err := st.client.OpenWriter(commitCtx, id)
		if err != nil {
			b.Abort()
			return failure(readOnlyRefused("write", "nothing was written", err))
		}
		beforeCommit(st)
		appendErr = w.AppendBatch(commitCtx, b, frontier.From(frontier.Time(upper)))
		closeErr = w.Close(commitCtx)
	default:
		b.Abort()
	}
	switch {
	case errors.As(appendErr, &overflow):
		return failure(fmt.Errorf("%s: the diffs of key %s val %s at time %d in this input sum out of the int64 range, which a diff cannot hold; nothing was written",
			in.label, overflow.Key, overflow.Val, overflow.Time))
	case errors.As(appendErr, &mismatch):
		return failure(fmt.Errorf("shard %q: another writer moved the upper to %v while this batch was prepared for %v; nothing was written", id, mismatch.Current, mismatch.Expected))
	case appendErr != nil && location.IsIndeterminate(appendErr):
		return failure(fmt.Errorf("write: %v: the batch may or may not have been written; '%s' shows whether the upper is [%d]",
			appendErr, g.commandLine("inspect", "--shard", string(id)), upper))
	case appendErr != nil:
		return failure(readOnlyRefused("write", "nothing was written", appendErr))
	}
	if closeErr != nil {
		g.log.Warn("closing writer", "err", closeErr)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(g.env.Stderr, "shardflow: interrupted while committing; the commit was let finish")
	}
	g.log.Info("appended batch", "shard", id, "updates", n, "lower", lower, "upper", upper)
	fmt.Fprintf(g.env.Stdout, "wrote %d updates to shard %s: upper [%d] -> [%d]\n", n, id, lower, upper)
	return nil
}

// commitTimeout bounds a write's commit, which an interrupt does not stop.
const commitTimeout = 2 * time.Minute

// beforeCommit runs between the writer's registration and the commit (a
// variable, so tests can interrupt a write there, or break its store).
var beforeCommit = func(*store) {}

// sortingDesc says what a write does between reading its input and merging
// its runs, if it has any: it sorts the updates still in the buffer and
// writes them (as the last run, or as the whole batch), with no progress
// to report.
const sortingDesc = "sorting and writing the buffered updates"

// feed adds the input's records to b, refusing a time before lower or, with
// --upper, not before it, and returns the largest time. It returns
// errInterrupted as soon as ctx is cancelled.
func feed(ctx context.Context, in *input, b *persist.BatchBuilder, lower uint64, upper *uint64) (maxTime uint64, err error) {
	for {
		var c recordChunk
		var ok bool
		select {
		case c, ok = <-in.chunks:
		case <-ctx.Done():
			return 0, errInterrupted
		}
		switch {
		case !ok:
			return maxTime, nil
		case ctx.Err() != nil:
			return 0, errInterrupted
		case c.err != nil:
			return 0, c.err
		}
		for _, r := range c.recs {
			if upper != nil && r.Time >= *upper {
				return 0, fmt.Errorf("%s:%d: time %d is outside the batch [%d, %d): it is not before --upper %d; nothing was written", in.label, r.Line, r.Time, lower, *upper, *upper)
			}
			maxTime = max(maxTime, r.Time)
			err := b.Add(ctx, persist.Update{Key: r.Key, Val: r.Val, Time: frontier.Time(r.Time), Diff: r.Diff})
			switch {
			case err == nil:
			case ctx.Err() != nil:
				return 0, errInterrupted
			case errors.Is(err, persist.ErrInvalidUpdate):
				// The builder refuses only a time before its lower.
				return 0, fmt.Errorf("%s:%d: time %d is before the shard's upper [%d]: times before it are closed; nothing was written", in.label, r.Line, r.Time, lower)
			default:
				return 0, fmt.Errorf("write: %w; nothing was written", err)
			}
		}
	}
}

// batchUpper returns --upper, or else the largest time plus one.
func batchUpper(n int64, maxTime uint64, flag *uint64) (uint64, error) {
	if flag != nil {
		return *flag, nil
	}
	if n == 0 {
		return 0, errors.New("no updates in the input and no --upper: nothing to write")
	}
	if maxTime == math.MaxUint64 {
		return 0, errors.New("time 18446744073709551615 is the largest time: no upper can follow it")
	}
	return maxTime + 1, nil
}

// notBeyond is the error of an upper not beyond the shard's.
func notBeyond(upper, lower uint64) error {
	return fmt.Errorf("--upper %d is not beyond the shard's current upper [%d]: times before %d are already closed; nothing was written", upper, lower, lower)
}
