package persist

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/part"
)

// benchUpdates returns n updates with 16-byte keys and values at times in
// [lower, lower+span).
func benchUpdates(rng *rand.Rand, n int, lower, span frontier.Time) []Update {
	us := make([]Update, n)
	buf := make([]byte, 32*n)
	for i := range us {
		k, v := buf[32*i:32*i+16:32*i+16], buf[32*i+16:32*i+32:32*i+32]
		binary.BigEndian.PutUint64(k, rng.Uint64())
		binary.BigEndian.PutUint64(k[8:], uint64(i))
		binary.BigEndian.PutUint64(v, rng.Uint64())
		us[i] = Update{Key: k, Val: v, Time: lower + frontier.Time(rng.IntN(int(span))), Diff: 1}
	}
	return us
}

// benchWriter opens a writer of shard "bench" in a default location (file
// blobs and SQLite) in a temporary directory.
func benchWriter(b *testing.B) *WriteHandle {
	ctx := context.Background()
	loc, err := DefaultLocation(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { loc.Close() })
	w, err := NewClient(loc, ClientOptions{}).OpenWriter(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkWrite appends batches of 100k rows (16-byte keys and values) to
// a file blob store and the embedded SQLite consensus.
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	w := benchWriter(b)
	const rows = 100_000
	us := benchUpdates(rand.New(rand.NewPCG(1, 2)), rows, 0, 1)
	b.SetBytes(rows * 32)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		for j := range us {
			us[j].Time = frontier.Time(i)
		}
		if err := w.CompareAndAppend(ctx, us, ts(frontier.Time(i)), ts(frontier.Time(i+1))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkBatchBuilder appends a batch of 1M rows (16-byte keys and
// values, 40 MB) through a BatchBuilder with an 8 MiB buffer, so as a merge
// of ten runs, to a file blob store and the embedded SQLite consensus.
func BenchmarkBatchBuilder(b *testing.B) {
	ctx := context.Background()
	w := benchWriter(b)
	const rows = 1_000_000
	us := benchUpdates(rand.New(rand.NewPCG(1, 2)), rows, 0, 1)
	b.SetBytes(rows * 32)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		bb := w.c.NewBatchBuilder("bench", ts(frontier.Time(i)), 8<<20)
		for j := range us {
			us[j].Time = frontier.Time(i)
			if err := bb.Add(ctx, us[j]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.AppendBatch(ctx, bb, ts(frontier.Time(i+1))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
}

// benchShard writes a 1M-row shard (10 batches of 100k rows, each spanning
// 10 times) to an in-memory location, in parts of about 8 MiB.
func benchShard(b *testing.B) (*Client, *ReadHandle) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{PartTargetSize: 8 << 20})
	w, err := c.OpenWriter(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 10 {
		lo := frontier.Time(10 * i)
		if err := w.CompareAndAppend(ctx, benchUpdates(rng, 100_000, lo, 10), ts(lo), ts(lo+10)); err != nil {
			b.Fatal(err)
		}
	}
	r, err := c.OpenReader(ctx, "bench", "bench")
	if err != nil {
		b.Fatal(err)
	}
	return c, r
}

// BenchmarkSnapshotFetch1M reads a 1M-row shard through Snapshot and Fetch,
// touching every row, and in the same loop decodes the same part blobs
// plainly (get, decode, touch). Interleaving the two keeps a noisy machine
// from favouring either; the "plain/persist" metric is the ratio of their
// times (1.0: persist costs nothing over a plain decode).
func BenchmarkSnapshotFetch1M(b *testing.B) {
	ctx := context.Background()
	c, r := benchShard(b)
	parts, err := r.Snapshot(ctx, 99)
	if err != nil {
		b.Fatal(err)
	}
	var keys []string
	for _, p := range parts {
		keys = append(keys, p.Desc.Key)
		p.Lease.Release()
	}
	var persistTime, plainTime time.Duration
	b.SetBytes(1_000_000 * 32)
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			plainTime += timed(func() { plainRead(b, c, keys) })
			persistTime += timed(func() { persistRead(b, c, r) })
		} else {
			persistTime += timed(func() { persistRead(b, c, r) })
			plainTime += timed(func() { plainRead(b, c, keys) })
		}
	}
	b.ReportMetric(plainTime.Seconds()/persistTime.Seconds(), "plain/persist")
	b.ReportMetric(float64(persistTime.Nanoseconds())/float64(b.N), "persist-ns/op")
	b.ReportMetric(float64(plainTime.Nanoseconds())/float64(b.N), "plain-ns/op")
}

func timed(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

func persistRead(b *testing.B, c *Client, r *ReadHandle) {
	ctx := context.Background()
	parts, err := r.Snapshot(ctx, 99)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	var sum int64
	for _, p := range parts {
		f, err := c.FetchLeased(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		for i := range f.Len() {
			sum += int64(len(f.Key(i))+len(f.Val(i))) + int64(f.Time(i)) + f.Diff(i)
		}
		n += f.Len()
		f.Release()
		p.Lease.Release()
	}
	if n != 1_000_000 || sum == 0 {
		b.Fatalf("%d rows", n)
	}
}

func plainRead(b *testing.B, c *Client, keys []string) {
	ctx := context.Background()
	n := 0
	var sum int64
	for _, k := range keys {
		data, _, err := c.loc.Blob.Get(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		d, err := part.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		for i := range d.Len() {
			sum += int64(len(d.Key(i))+len(d.Val(i))) + int64(d.Time(i)) + d.Diff(i)
		}
		n += d.Len()
		d.Release()
	}
	if n != 1_000_000 || sum == 0 {
		b.Fatalf("%d rows", n)
	}
}

// BenchmarkTransitionSQLite is the latency of one state transition (a
// reader heartbeat: encode plus one durable compare-and-set) on the
// embedded consensus.
func BenchmarkTransitionSQLite(b *testing.B) {
	ctx := context.Background()
	loc, err := DefaultLocation(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer loc.Close()
	c := NewClient(loc, ClientOptions{})
	r, err := c.OpenReader(ctx, "bench", "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := r.Heartbeat(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteOneRow appends single-row batches to the default location:
// the latency of a small durable write, which bounds P5's write-to-visible.
func BenchmarkWriteOneRow(b *testing.B) {
	ctx := context.Background()
	w := benchWriter(b)
	us := benchUpdates(rand.New(rand.NewPCG(1, 2)), 1, 0, 1)
	b.ResetTimer()
	for i := range b.N {
		us[0].Time = frontier.Time(i)
		if err := w.CompareAndAppend(ctx, us, ts(frontier.Time(i)), ts(frontier.Time(i+1))); err != nil {
			b.Fatal(err)
		}
	}
}
