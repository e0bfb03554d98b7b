package persist_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// stepClock is a clock moved by hand.
type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time { return c.t }

// GC collects the parts compaction replaced once no reader holds the state
// versions naming them; the janitor reaps blobs no version names (a writer
// that died between writing its parts and committing them) once they are
// older, by the blob store's clock, than the minimum age.
func ExampleClient_Janitor() {
	ctx := context.Background()
	clock := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	blob := mem.NewBlobWithClock(clock.Now) // stamps ModTime with clock
	loc := persist.Location{Blob: blob, Consensus: mem.NewConsensus()}
	// Every part in a blob, as larger appends write them: parts this small
	// would otherwise be kept in the state itself, and GC has no blob to
	// collect.
	c := persist.NewClient(loc, persist.ClientOptions{Clock: clock, BlobClock: clock, InlineWriteMaxBytes: -1})
	from := frontier.From[frontier.Time]

	w, _ := c.OpenWriter(ctx, "s")
	r, _ := c.OpenReader(ctx, "s", "example")
	for t := range frontier.Time(3) {
		_ = w.CompareAndAppend(ctx, []persist.Update{{Key: []byte("k"), Time: t, Diff: 1}}, from(t), from(t+1))
	}
	_ = r.DowngradeSince(ctx, from(2)) // history before 2 may be merged
	comp, _ := c.Compact(ctx, "s")
	_ = r.Heartbeat(ctx) // the reader holds no older version any more
	gc, _ := c.GC(ctx, "s")
	fmt.Println("compacted", comp.BatchesMerged, "batches; GC deleted", gc.BlobsDeleted, "blobs")

	_ = blob.Set(ctx, "s/p/dead-writer.parquet", []byte("never committed"))
	jr, _ := c.Janitor(ctx, "s", time.Hour)
	fmt.Println("young orphans reaped:", jr.OrphansReaped)
	clock.t = clock.t.Add(2 * time.Hour)
	jr, _ = c.Janitor(ctx, "s", time.Hour)
	fmt.Println("old orphans reaped:", jr.OrphansReaped)
	v, _ := c.Verify(ctx, "s")
	fmt.Println("shard intact:", v.OK())
	// Output:
	// compacted 2 batches; GC deleted 2 blobs
	// young orphans reaped: 0
	// old orphans reaped: 1
	// shard intact: true
}
