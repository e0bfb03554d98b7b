package replay_test

import (
	"context"
	"fmt"
	"os"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/cmd/shardflow/internal/replay"
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// Two workers each send the same updates; Run prints them once per (key,
// val, time) with the diffs summed.
func ExampleRun() {
	err := replay.Run(context.Background(), replay.Config{
		Workers: 2,
		Build: func(s *dataflow.Scope[frontier.Time], fail func(error)) (*replay.Stream, func()) {
			in, stream := dataflow.NewInput[render.Update](s)
			in.Send(render.Update{Key: []byte(`"b"`), Val: []byte(`1`), Time: 0, Diff: 1})
			in.Send(render.Update{Key: []byte(`"a"`), Val: []byte(`1`), Time: 0, Diff: 1})
			in.AdvanceTo(3)
			in.Send(render.Update{Key: []byte(`"a"`), Val: []byte(`1`), Time: 3, Diff: -1})
			in.Close()
			return stream, func() {}
		},
		Printer: render.NewPrinter(os.Stdout, render.CSV),
	})
	fmt.Println(err)
	// Output:
	// key,val,time,diff
	// """a""",1,0,2
	// """b""",1,0,2
	// """a""",1,3,-2
	// <nil>
}
