package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
)

func newShardsCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "shards [--output json|table]",
		Short: "List the shards of the location with their seqno, since and upper",
		Example: `  shardflow shards
  shardflow shards --location /var/lib/shardflow --output json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShards(cmd.Context(), g, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: json (one object per line) or table")
	return cmd
}

type shardJSON struct {
	Shard string   `json:"shard"`
	SeqNo uint64   `json:"seqno"`
	Since []uint64 `json:"since"`
	Upper []uint64 `json:"upper"`
}

func runShards(ctx context.Context, g *globals, output string) error {
	if output != "json" && output != "table" {
		return usageErrorf("--output: unknown format %q (want json or table)", output)
	}
	st, err := g.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ids, err := st.client.ListShards(ctx)
	if err != nil {
		return failure(err)
	}
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	enc := json.NewEncoder(g.env.Stdout)
	if output == "table" {
		fmt.Fprintln(tw, "SHARD\tSEQNO\tSINCE\tUPPER")
	}
	for _, id := range ids {
		s, err := st.client.State(ctx, id)
		if err != nil {
			return failure(err)
		}
		if output == "json" {
			if err := enc.Encode(shardJSON{Shard: string(id), SeqNo: s.SeqNo, Since: times(s.Since), Upper: times(s.Upper)}); err != nil {
				return failure(err)
			}
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", id, s.SeqNo, render.FrontierJSON(times(s.Since)), render.FrontierJSON(times(s.Upper)))
	}
	if output == "table" {
		return failure(tw.Flush())
	}
	return nil
}
