package postgres_test

import (
	"context"
	"fmt"

	"github.com/shardflow/shardflow/persist/location"
	_ "github.com/shardflow/shardflow/persist/location/postgres"
)

// Example shows a reader waking on another process's write. It needs a
// server, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	c, err := location.OpenConsensus(ctx, "postgres://postgres@127.0.0.1:5432/shardflow?sslmode=disable")
	if err != nil {
		panic(err)
	}
	defer c.Close()
	notify, cancel, err := c.(location.Watcher).Watch(ctx, "shard-1")
	if err != nil {
		panic(err)
	}
	defer cancel()
	<-notify // a new version of shard-1 may exist: read it
	head, _, _ := c.Head(ctx, "shard-1")
	fmt.Println(head.SeqNo)
}
