package cli

import (
	"context"
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
		return err
	}
	defer st.Close()
	ids, err := st.client.ListShards(ctx)
	if err != nil {
		return failure(err)
	}
	if !slices.Contains(ids, demoShard) {
		if err := writeDemo(ctx, st); err != nil {
			return failure(err)
		}
		fmt.Fprintf(g.env.Stderr, "wrote the sample shard %q (%d batches) to %s\n", demoShard, len(demoBatches), g.where())
	} else {
		fmt.Fprintf(g.env.Stderr, "the sample shard %q is already in %s\n", demoShard, g.where())
	}
	fmt.Fprintf(g.env.Stderr, "replaying it: shardflow replay --shard %s\n", demoShard)
	cfg := replayConfig{shard: demoShard, snapshot: true, workers: 2, fetchConcurrency: 4, output: render.JSONL}
	return replayShard(ctx, g, st, cfg)
}

func writeDemo(ctx context.Context, st *store) error {
	w, err := st.client.OpenWriter(ctx, demoShard)
	if err != nil {
		return err
	}
	defer w.Close(ctx)
	lower := uint64(0)
	for _, b := range demoBatches {
		ups := make([]persist.Update, len(b.updates))
		for i, u := range b.updates {
			ups[i] = persist.Update{Key: u.Key, Val: u.Val, Time: frontier.Time(u.Time), Diff: u.Diff}
		}
		if err := w.CompareAndAppend(ctx, ups, frontier.From(frontier.Time(lower)), frontier.From(frontier.Time(b.upper))); err != nil {
			return err
		}
		lower = b.upper
	}
	return nil
}

// where names the location for messages.
func (g *globals) where() string {
	if g.blob != "" {
		return redactURL(g.blob) + " + " + redactURL(g.consensus)
	}
	return g.location
}
