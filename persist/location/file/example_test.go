package file_test

import (
	"context"
	"fmt"
	"os"

	"github.com/shardflow/shardflow/persist/location"
	_ "github.com/shardflow/shardflow/persist/location/file"
)

func Example() {
	dir, err := os.MkdirTemp("", "blobs")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	b, err := location.OpenBlob(ctx, "file://"+dir)
	if err != nil {
		panic(err)
	}
	defer b.Close()

	// Durable when Set returns.
	if err := b.Set(ctx, "shard-1/part-0", []byte("parquet bytes")); err != nil {
		panic(err)
	}
	v, ok, _ := b.Get(ctx, "shard-1/part-0")
	fmt.Printf("%q %v\n", v, ok)
	_, ok, _ = b.Get(ctx, "shard-1/part-9")
	fmt.Println("missing:", ok)
	b.List(ctx, "shard-1/", func(m location.BlobMeta) error {
		fmt.Println(m.Key, m.Size)
		return nil
	})
	// Output:
	// "parquet bytes" true
	// missing: false
	// shard-1/part-0 13
}
