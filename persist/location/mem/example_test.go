package mem_test

import (
	"context"
	"fmt"

	"github.com/shardflow/shardflow/persist/location"
	_ "github.com/shardflow/shardflow/persist/location/mem"
)

func Example() {
	ctx := context.Background()
	c, err := location.OpenConsensus(ctx, "mem://example")
	if err != nil {
		panic(err)
	}
	defer c.Close()

	res, _ := c.CompareAndSet(ctx, "shard", nil, location.VersionedData{SeqNo: 1, Data: []byte("v1")})
	fmt.Println(res)
	// Losing a race is a result, not an error.
	res, _ = c.CompareAndSet(ctx, "shard", nil, location.VersionedData{SeqNo: 1, Data: []byte("other")})
	fmt.Println(res)
	head, ok, _ := c.Head(ctx, "shard")
	fmt.Println(head.SeqNo, string(head.Data), ok)
	// Output:
	// committed
	// expectation mismatch
	// 1 v1 true
}
