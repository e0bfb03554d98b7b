package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shardflow/shardflow/persist/location"
	_ "github.com/shardflow/shardflow/persist/location/sqlite"
)

func Example() {
	dir, err := os.MkdirTemp("", "consensus")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	c, err := location.OpenConsensus(ctx, "sqlite://"+filepath.Join(dir, "consensus.db"))
	if err != nil {
		panic(err)
	}
	defer c.Close()

	for s := location.SeqNo(1); s <= 3; s++ {
		expected := &[]location.SeqNo{s - 1}[0]
		if s == 1 {
			expected = nil
		}
		res, err := c.CompareAndSet(ctx, "shard", expected, location.VersionedData{SeqNo: s, Data: fmt.Appendf(nil, "state %d", s)})
		fmt.Println(s, res, err)
	}
	deleted, _ := c.Truncate(ctx, "shard", 3)
	head, _, _ := c.Head(ctx, "shard")
	fmt.Printf("truncated %d, head %d %q\n", deleted, head.SeqNo, head.Data)
	// Output:
	// 1 committed <nil>
	// 2 committed <nil>
	// 3 committed <nil>
	// truncated 2, head 3 "state 3"
}
