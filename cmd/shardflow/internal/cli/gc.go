package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

type gcFlags struct {
	shard   string
	minAge  time.Duration
	compact bool
}

func newGCCmd(g *globals) *cobra.Command {
	var f gcFlags
	cmd := &cobra.Command{
		Use:   "gc --shard NAME [--min-age DURATION] [--compact=false]",
		Short: "Compact history and collect garbage: expired readers, unreachable versions and blobs, orphans",
		Long: `gc first compacts (unless --compact=false): the batches wholly behind the
shard's since are merged into one, their rows advanced to the since and
consolidated, so history no reader can ask for stops costing space.

It then runs garbage collection: readers and writers whose lease ran out
are expired, blobs referenced only by state versions older than every
reader's seqno hold are deleted, and those versions are truncated.

It then runs the orphan janitor: blobs under the shard that no state version
references and that are older than --min-age are deleted, such as the parts
of a writer that died before committing. --min-age must exceed the longest
time a live writer takes between writing a part and committing it, or an
in-flight write could lose its parts.`,
		Example: `  shardflow gc --shard fruit
  shardflow gc --shard fruit --min-age 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGC(cmd.Context(), g, f)
		},
	}
	addShardFlag(cmd, &f.shard)
	cmd.Flags().DurationVar(&f.minAge, "min-age", 15*time.Minute, "the janitor deletes unreferenced blobs only when older than this")
	cmd.Flags().BoolVar(&f.compact, "compact", true, "merge the batches behind the since first")
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
	st, err := g.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.mustExist(ctx, id); err != nil {
		return err
	}
	w := g.env.Stdout
	if f.compact {
		c, err := st.client.Compact(ctx, id)
		if err != nil {
			return failure(err)
		}
		fmt.Fprintf(w, "compact: merged %d batches, %d parts -> %d, %d rows -> %d\n", c.BatchesMerged, c.PartsIn, c.PartsOut, c.RowsIn, c.RowsOut)
	}
	gc, err := st.client.GC(ctx, id)
	if err != nil {
		return failure(err)
	}
	fmt.Fprintf(w, "gc: expired %d readers %v\n", len(gc.ExpiredReaders), gc.ExpiredReaders)
	fmt.Fprintf(w, "gc: deleted %d blobs, truncated %d state versions before seqno %d\n", gc.BlobsDeleted, gc.VersionsTruncated, gc.SeqNoHold)
	jr, err := st.client.Janitor(ctx, id, f.minAge)
	if err != nil {
		return failure(err)
	}
	fmt.Fprintf(w, "janitor: listed %d blobs, %d orphans older than %v, deleted %d (%d temp files)\n", jr.Listed, jr.OrphansFound, f.minAge, jr.OrphansReaped, jr.TempReaped)
	return nil
}
