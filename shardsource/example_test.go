package shardsource_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/codec"
	"github.com/shardflow/shardflow/shardsource"
)

// Replay a shard with two workers: the contents at as_of 1, then the
// changes up to until 3.
func Example() {
	ctx := context.Background()
	loc, err := persist.OpenLocation(ctx, "mem://", "mem://")
	if err != nil {
		panic(err)
	}
	defer loc.Close()
	client := persist.NewClient(loc, persist.ClientOptions{})
	w, _ := client.OpenWriter(ctx, "fruit")
	from := frontier.From[frontier.Time]
	_ = w.CompareAndAppend(ctx, []persist.Update{
		{Key: []byte("apple"), Val: []byte("red"), Time: 0, Diff: 1},
		{Key: []byte("pear"), Val: []byte("green"), Time: 1, Diff: 1},
	}, from(0), from(2))
	_ = w.CompareAndAppend(ctx, []persist.Update{
		{Key: []byte("apple"), Val: []byte("red"), Time: 2, Diff: -1},
		{Key: []byte("plum"), Val: []byte("blue"), Time: 4, Diff: 1}, // beyond until
	}, from(2), from(5))

	lines := make([][]string, 2)
	err = dataflow.Execute(dataflow.Config{Workers: 2}, func(wk *dataflow.Worker) {
		dataflow.Dataflow(wk, "replay", func(s *dataflow.Scope[frontier.Time]) {
			asOf := from(1)
			parts, _ := shardsource.Source(s, "fruit", func(context.Context) (*persist.Client, error) { return client, nil },
				"fruit", shardsource.Options[string, string]{
					AsOf: &asOf, Until: from(3),
					KeyCodec: codec.String{}, ValCodec: codec.String{},
					ErrorHandler: shardsource.Signal(func(err error) { fmt.Println(err) }),
				})
			b := dataflow.NewBuilder(s, "print")
			in := dataflow.AddInput(b, parts, dataflow.Pipeline[*shardsource.Part[string, string]]())
			b.Build(func([]*dataflow.Capability[frontier.Time]) func() {
				return func() {
					in.ForEach(func(_ dataflow.CapabilityRef[frontier.Time], ps []*shardsource.Part[string, string]) {
						for _, p := range ps {
							for i := range p.Len() {
								k, v, t, d, _ := p.Decode(i)
								lines[s.Index()] = append(lines[s.Index()], fmt.Sprintf("%d %s=%s %+d", t, k, v, d))
							}
							p.Release()
						}
					})
				}
			})
		})
	})
	if err != nil {
		panic(err)
	}
	all := slices.Concat(lines...)
	slices.Sort(all)
	for _, l := range all {
		fmt.Println(l)
	}
	// Output:
	// 1 apple=red +1
	// 1 pear=green +1
	// 2 apple=red -1
}
