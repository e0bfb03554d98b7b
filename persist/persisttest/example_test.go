package persisttest_test

import (
	"context"
	"fmt"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/mem"
	"github.com/shardflow/shardflow/persist/persisttest"
)

func ExampleFaults() {
	ctx := context.Background()
	faults := persisttest.NewFaults(7)
	c := persisttest.NewFaultyConsensus(mem.NewConsensus(), faults)
	defer c.Close()

	// The reply of the next compare-and-set is lost: it commits, but the
	// caller only learns that it may have happened.
	faults.FailNext(persisttest.OpConsensusCAS, persisttest.IndeterminateApplied)
	_, err := c.CompareAndSet(ctx, "shard", nil, location.VersionedData{SeqNo: 1})
	fmt.Println("indeterminate:", location.IsIndeterminate(err))
	head, ok, _ := c.Head(ctx, "shard")
	fmt.Println("committed anyway:", ok, head.SeqNo)
	// Output:
	// indeterminate: true
	// committed anyway: true 1
}
