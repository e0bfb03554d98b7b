package shardsourcetest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/codec"
	"github.com/shardflow/shardflow/shardsource"
	"github.com/shardflow/shardflow/shardsource/shardsourcetest"
)

// A part's blob goes missing: the source freezes at its time, and once the
// cluster is quiescent the frontier is known to stay there.
func ExampleQuiesce() {
	ctx := context.Background()
	loc, _ := persist.OpenLocation(ctx, "mem://", "mem://")
	defer loc.Close()
	// Parts in blobs, so one can go missing (a part this small would
	// otherwise be kept in the state itself).
	client := persist.NewClient(loc, persist.ClientOptions{InlineWriteMaxBytes: -1})
	w, _ := client.OpenWriter(ctx, "s")
	from := frontier.From[frontier.Time]
	for t := range frontier.Time(3) {
		_ = w.CompareAndAppend(ctx, []persist.Update{{Key: []byte("k"), Val: []byte("v"), Time: t, Diff: 1}}, from(t), from(t+1))
	}
	st, _ := client.State(ctx, "s")
	_, _ = loc.Blob.Delete(ctx, st.Batches[1].Parts[0].Key) // the part at t=1

	c := dataflowtest.NewCluster(2, 1)
	var sources []*shardsource.Tokens
	var probes []*dataflow.ProbeHandle[frontier.Time]
	c.Build(func(wk *dataflow.Worker) {
		dataflow.Dataflow(wk, "read", func(s *dataflow.Scope[frontier.Time]) {
			parts, tokens := shardsource.Source(s, "s", func(context.Context) (*persist.Client, error) { return client, nil }, "s",
				shardsource.Options[[]byte, []byte]{
					AsOf: ptr(from(0)), Until: from(3),
					KeyCodec: codec.Bytes{}, ValCodec: codec.Bytes{},
					ErrorHandler: shardsource.Signal(func(error) {}),
				})
			// Every worker builds the same dataflow, probe included.
			probe := dataflow.NewProbeHandle[frontier.Time]()
			dataflow.ProbeWith(parts, probe)
			probes = append(probes, probe)
			sources = append(sources, tokens)
		})
	})
	if err := shardsourcetest.Quiesce(c, sources, 20*time.Second); err != nil {
		panic(err)
	}
	fmt.Println("frontier:", probes[0].Frontier())
	for _, s := range sources {
		s.Drop()
	}
	for c.Running() {
		c.Fabric.DeliverAll(c.Rand)
		c.StepAll()
	}
	// Output:
	// frontier: [1]
}

func ptr[T any](v T) *T { return &v }
