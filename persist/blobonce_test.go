package persist

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
)

// writeOnceBlob records every key Set on it and each key Set more than
// once, or over a blob that exists.
type writeOnceBlob struct {
	location.Blob
	mu      sync.Mutex
	written map[string]bool
	again   []string
}

func (b *writeOnceBlob) Set(ctx context.Context, key string, value []byte) error {
	_, exists, err := b.Blob.Get(ctx, key)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.written[key] || exists {
		b.again = append(b.again, key)
	}
	b.written[key] = true
	b.mu.Unlock()
	return b.Blob.Set(ctx, key, value)
}

// A blob is written once and never overwritten, whatever writes it:
// appends, the runs of a large batch and their merge, the merges of small
// batches, compaction, GC and the janitor. A part's key names one content
// for good, which is what lets a reader fetch by key from any state
// version that references it.
func TestBlobsAreWrittenOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	wb := &writeOnceBlob{Blob: e.blob, written: map[string]bool{}}
	opts := ClientOptions{InlineWriteMaxBytes: -1, MergeFanIn: 2}
	opts.Clock, opts.BlobClock = e.clock, e.clock
	c := NewClient(Location{Blob: wb, Consensus: e.cons}, opts)
	adv, err := c.OpenReader(ctx, "s", "moves the since")
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		ups := []Update{up(fmt.Sprintf("k%d", i%4), "v", uint64Time(i), 1), up("same", "v", uint64Time(i), 1)}
		if err := w.CompareAndAppend(ctx, ups, ts(uint64Time(i)), ts(uint64Time(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	b := c.NewBatchBuilder("s", ts(12), 1) // a run per update, merged on Seal
	for i := range 6 {
		if err := b.Add(ctx, up(fmt.Sprintf("r%d", i), "v", 12, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AppendBatch(ctx, b, ts(13)); err != nil {
		t.Fatal(err)
	}
	for _, since := range []int{4, 9, 12} {
		compactAndGC(t, c, adv, since)
		if _, err := c.Janitor(ctx, "s", 0); err != nil {
			t.Fatal(err)
		}
	}
	if len(wb.written) < 12 {
		t.Fatalf("only %d blobs written: the workload wrote too little to tell", len(wb.written))
	}
	if len(wb.again) > 0 {
		t.Fatalf("blobs written more than once: %v", wb.again)
	}
}
