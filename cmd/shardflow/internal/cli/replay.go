package cli

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/persist"
)

type replayFlags struct {
	shard            string
	asOf             string
	until            string
	snapshot         string
	workers          int
	fetchConcurrency int
	follow           bool
	output           string
}

func newReplayCmd(g *globals) *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay --shard NAME [--as-of T] [--until T] [--snapshot include|exclude] [--workers N] [--fetch-concurrency N] [--follow] [--output jsonl|csv|table]",
		Short: "Stream a shard through a dataflow and print its updates and frontier",
		Long: `replay runs the shard source in a dataflow of --workers workers and prints
the stream it captures: one line per update, consolidated per time (diffs of
identical key and val summed, zeros dropped) and sorted by time, key and val,

  {"key":..,"val":..,"time":T,"diff":D}

and a line each time the replay sees the output frontier advance: every
update at a time before it has been printed. The frontier [] means the
replay is done:

  {"frontier":[T...]}

The updates printed are the same however many workers run; the frontier
lines may not be: advances the replay sees together print as one line,
and which it sees together depends on the workers' timing.

--as-of (default: the shard's since) is the time of the snapshot: with
--snapshot include (the default) the updates at or before it come first,
advanced to it; with exclude they are skipped. Then come the updates after
it. The as-of must be at or after the shard's since; a replay holds the
since where it is while it runs and never moves it. Without --follow and
--until, the replay stops at the shard's upper as it was when the replay
started. --until T stops before time T, which must be after the as-of (a
usage error against --as-of; against the since, when --as-of is not given,
there is nothing to replay, which is reported and exits 0); a T past the
upper makes the replay wait for writes up to it. --follow keeps
printing new updates as they are written, until SIGINT or SIGTERM, then
shuts down cleanly (its readers expired) and exits 0. A closed output
(replay | head) also shuts it down cleanly, with status 1 and no message. A
replay killed outright leaves its readers registered until their 15-minute
leases run out; gc then removes them.

If the source cannot read what it must (a part's blob missing, corrupt or
unreadable, the shard's state unreadable, an as-of the since has passed),
the frontier freezes where the error struck; replay waits for the dataflow
to settle, prints

  {"error":"<message>","frontier":[T...]}

and exits with status 3. The csv output has rows only; table is for people.

A location this process cannot write (a read-only file system, another
user's, a database role that may only read, a --consensus URL with
mode=ro) is replayed without registering a reader, and nothing is written
to it. Nothing then holds the since or the parts for the replay: if
another process writes and collects that location meanwhile, the replay
may freeze (status 3) where it would otherwise have finished.`,
		Example: `  # Everything written so far, then stop.
  shardflow replay --shard fruit

  # The state as of time 5 (one line per key and val), and nothing after it.
  shardflow replay --shard fruit --as-of 5 --until 6

  # Tail new writes with 4 workers, as a table.
  shardflow replay --shard fruit --follow --workers 4 --output table`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			return runReplay(cmd.Context(), g, cfg)
		},
	}
	addShardFlag(cmd, &f.shard)
	fl := cmd.Flags()
	fl.StringVar(&f.asOf, "as-of", "", "snapshot time (default: the shard's since)")
	fl.StringVar(&f.until, "until", "", "stop before this time (default: the upper at start, or never with --follow)")
	fl.StringVar(&f.snapshot, "snapshot", "include", "include or exclude the snapshot at --as-of")
	fl.IntVar(&f.workers, "workers", 2, "dataflow workers")
	fl.IntVar(&f.fetchConcurrency, "fetch-concurrency", 4, "parts fetched at once per worker")
	fl.BoolVar(&f.follow, "follow", false, "keep printing new updates until SIGINT or SIGTERM")
	fl.StringVarP(&f.output, "output", "o", "jsonl", "output format: jsonl, csv or table")
	return cmd
}

// replayConfig is a checked replay command line.
type replayConfig struct {
	shard            persist.ShardID
	asOf, until      *uint64
	snapshot         bool
	workers          int
	fetchConcurrency int
	follow           bool
	output           render.Format
}

func (f replayFlags) config() (replayConfig, error) {
	var c replayConfig
	var err error
	if c.shard, err = shardID(f.shard); err != nil {
		return c, err
	}
	if c.asOf, err = optionalTime("--as-of", f.asOf); err != nil {
		return c, err
	}
	if c.until, err = optionalTime("--until", f.until); err != nil {
		return c, err
	}
	if c.asOf != nil && c.until != nil && *c.until <= *c.asOf {
		return c, usageErrorf("--until %d is not after --as-of %d: the replay starts at the as-of and stops before the until, so it could print nothing", *c.until, *c.asOf)
	}
	switch f.snapshot {
	case "include":
		c.snapshot = true
	case "exclude":
	default:
		return c, usageErrorf("--snapshot: want include or exclude, got %q", f.snapshot)
	}
	if f.workers < 1 || f.workers > 256 {
		return c, usageErrorf("--workers: want 1 to 256, got %d", f.workers)
	}
	if f.fetchConcurrency < 1 || f.fetchConcurrency > 1024 {
		return c, usageErrorf("--fetch-concurrency: want 1 to 1024, got %d", f.fetchConcurrency)
	}
	c.workers, c.fetchConcurrency, c.follow = f.workers, f.fetchConcurrency, f.follow
	if c.output, err = render.ParseFormat(f.output); err != nil {
		return c, usageErrorf("--output: unknown format %q (want jsonl, csv or table)", f.output)
	}
	return c, nil
}

func optionalTime(flag, s string) (*uint64, error) {
	if s == "" {
		return nil, nil
	}
	t, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, usageErrorf("%s: want an unsigned integer, got %q", flag, s)
	}
	return &t, nil
}

func runReplay(ctx context.Context, g *globals, cfg replayConfig) error {
	st, err := g.openForReading(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.mustExist(ctx, cfg.shard); err != nil {
		return err
	}
	return replayShard(ctx, g, st, cfg)
}
