package gcblob_test

import (
	"context"
	"fmt"

	"gocloud.dev/blob/memblob"

	"github.com/shardflow/shardflow/persist/location/gcblob"
)

func Example() {
	ctx := context.Background()
	b := gcblob.New(memblob.OpenBucket(nil), "mem")
	defer b.Close()

	_, ok, err := b.Get(ctx, "missing")
	fmt.Println("missing:", ok, err) // a miss is a result, not an error
	if err := b.Set(ctx, "k", []byte("v")); err != nil {
		panic(err)
	}
	v, ok, _ := b.Get(ctx, "k")
	fmt.Printf("%s %v\n", v, ok)
	// Output:
	// missing: false <nil>
	// v true
}
