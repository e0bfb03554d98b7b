package persisttest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
)

// BenchmarkCompareAndSet measures sequential compare-and-sets that commit,
// each appending the next seqno of one key with a small payload.
func BenchmarkCompareAndSet(b *testing.B, c location.Consensus) {
	ctx := context.Background()
	data := make([]byte, 256)
	var expected *location.SeqNo
	key := fmt.Sprintf("bench-%p", b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		next := location.SeqNo(i + 1)
		res, err := c.CompareAndSet(ctx, key, expected, location.VersionedData{SeqNo: next, Data: data})
		if err != nil || res != location.Committed {
			b.Fatalf("CompareAndSet: %v, %v", res, err)
		}
		expected = &next
	}
}

// BenchmarkSet measures sequential Sets of size-byte values to fresh keys.
func BenchmarkSet(b *testing.B, blob location.Blob, size int) {
	ctx := context.Background()
	value := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := blob.Set(ctx, fmt.Sprintf("bench/%d", i), value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompareAndSetParallel measures committing compare-and-sets from
// parallel goroutines, each appending to its own key (no lost races): the
// store's write throughput under concurrency.
func BenchmarkCompareAndSetParallel(b *testing.B, c location.Consensus) {
	ctx := context.Background()
	data := make([]byte, 256)
	var worker atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("bench-%p-%d", b, worker.Add(1))
		var expected *location.SeqNo
		for i := 1; pb.Next(); i++ {
			next := location.SeqNo(i)
			res, err := c.CompareAndSet(ctx, key, expected, location.VersionedData{SeqNo: next, Data: data})
			if err != nil || res != location.Committed {
				b.Errorf("CompareAndSet: %v, %v", res, err)
				return
			}
			expected = &next
		}
	})
}
