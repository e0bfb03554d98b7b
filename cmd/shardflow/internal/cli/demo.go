package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

const demoShard = "demo"

func newDemoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Write a small sample shard (if absent) and replay it",
		Long: `demo writes a sample shard named "demo" into the location, unless it is
already there: a fruit stand's stock over a few batches, with inserts (+1)
and retractions (-1) at several times. It then replays it, as
"shardflow replay --shard demo" would, and prints what that prints.

Afterwards try:
  shardflow inspect --shard demo
  shardflow replay --shard demo --as-of 3 --output table`,
		Example: `  go run ./cmd/shardflow demo
  shardflow demo --location /tmp/shardflow-demo`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), g)
		},
	}
}

// demoBatches is the sample shard: each batch is its updates and its upper.
var demoBatches = []struct {
	upper   uint64
	updates []render.Update
}{
	{2, []render.Update{
		{Key: []byte(`"apple"`), Val: []byte(`{"price":3,"stock":10}`), Time: 0, Diff: 1},
		{Key: []byte(`"pear"`), Val: []byte(`{"price":4,"stock":5}`), Time: 0, Diff: 1},
		{Key: []byte(`"fig"`), Val: []byte(`{"price":7,"stock":2}`), Time: 1, Diff: 1},
	}},
	{4, []render.Update{
		{Key: []byte(`"apple"`), Val: []byte(`{"price":3,"stock":10}`), Time: 2, Diff: -1},
		{Key: []byte(`"apple"`), Val: []byte(`{"price":3,"stock":8}`), Time: 2, Diff: 1},
		{Key: []byte(`"kiwi"`), Val: []byte(`{"price":2,"stock":20}`), Time: 3, Diff: 1},
	}},
	{6, []render.Update{
		{Key: []byte(`"fig"`), Val: []byte(`{"price":7,"stock":2}`), Time: 5, Diff: -1},
		{Key: []byte(`"pear"`), Val: []byte(`{"price":4,"stock":5}`), Time: 5, Diff: -1},
		{Key: []byte(`"pear"`), Val: []byte(`{"price":5,"stock":5}`), Time: 5, Diff: 1},
	}},
}

func runDemo(ctx context.Context, g *globals) error {
	st, err := g.open(ctx, true)
	if err != nil {
		// A location this user cannot write may hold the whole sample
		// already, which needs no writing: replay it read-only.
		rst, rerr := g.openForReading(ctx)
		if rerr != nil {
			return err
		}
		if !demoComplete(ctx, rst) {
			rst.Close()
			return err
		}
		st = rst
	}
	defer st.Close()
	wrote, err := writeDemo(ctx, st)
	switch {
	case err != nil:
		return failure(err)
	case wrote == len(demoBatches):
		fmt.Fprintf(g.env.Stderr, "wrote the sample shard %q (%d batches) to %s\n", demoShard, wrote, g.where())
	case wrote > 0:
		fmt.Fprintf(g.env.Stderr, "completed the sample shard %q in %s (%d of %d batches were missing)\n", demoShard, g.where(), wrote, len(demoBatches))
	default:
		fmt.Fprintf(g.env.Stderr, "the sample shard %q is already in %s\n", demoShard, g.where())
	}
	fmt.Fprintf(g.env.Stderr, "replaying it: %s\n", g.commandLine("replay", "--shard", demoShard))
	cfg := replayConfig{shard: demoShard, snapshot: true, workers: 2, fetchConcurrency: 4, output: render.JSONL}
	return replayShard(ctx, g, st, cfg)
}

// writeDemo appends the sample's batches the shard does not have yet, and
// returns how many it appended: all of them to a new shard, the rest of
// them to one an interrupted demo left part written, none to a complete
// one. A shard whose upper is not one of the sample's is refused: it holds
// something else.
func writeDemo(ctx context.Context, st *store) (wrote int, err error) {
	if demoComplete(ctx, st) {
		return 0, nil // no writer: the location may be read-only
	}
	w, err := st.client.OpenWriter(ctx, demoShard)
	if err != nil {
		return 0, err
	}
	defer w.Close(context.WithoutCancel(ctx))
	upper, err := w.FetchUpper(ctx)
	if err != nil {
		return 0, err
	}
	lower := uint64(0)
	for i := 0; i < len(demoBatches); i++ {
		b := demoBatches[i]
		from := frontier.From(frontier.Time(lower))
		to := frontier.From(frontier.Time(b.upper))
		switch {
		case frontier.LessEqual(to, upper):
			lower = b.upper // written already
			continue
		case !upper.Equal(from):
			return wrote, fmt.Errorf("shard %q has upper %v, which is not the sample's: it holds other data (use another --location)", demoShard, upper)
		}
		ups := make([]persist.Update, len(b.updates))
		for i, u := range b.updates {
			ups[i] = persist.Update{Key: u.Key, Val: u.Val, Time: frontier.Time(u.Time), Diff: u.Diff}
		}
		var mismatch *persist.UpperMismatchError
		err := w.CompareAndAppend(ctx, ups, from, to)
		if errors.As(err, &mismatch) && !mismatch.Current.Equal(from) {
			// Another demo appended first: look at this batch again
			// against the upper it left.
			upper = mismatch.Current
			i--
			continue
		}
		if err != nil {
			return wrote, err
		}
		wrote++
		upper, lower = to, b.upper
	}
	if !upper.Equal(frontier.From(frontier.Time(lower))) {
		return wrote, fmt.Errorf("shard %q has upper %v, beyond the sample's: it holds other data (use another --location)", demoShard, upper)
	}
	return wrote, nil
}

// demoComplete reports whether st holds the whole sample shard: its upper
// is the sample's last. (One holding other data with that upper is
// replayed as it is.)
func demoComplete(ctx context.Context, st *store) bool {
	ids, err := st.client.ListShards(ctx)
	if err != nil || !slices.Contains(ids, persist.ShardID(demoShard)) {
		return false
	}
	s, err := st.client.State(ctx, demoShard)
	last := demoBatches[len(demoBatches)-1].upper
	return err == nil && s.Upper.Equal(frontier.From(frontier.Time(last)))
}

// where names the location for messages.
func (g *globals) where() string {
	if g.blob != "" {
		return redactURL(g.blob) + " + " + redactURL(g.consensus)
	}
	return g.location
}
