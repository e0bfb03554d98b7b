package shardsource

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/codec"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// benchShard writes rows rows in parts batches (one part each) to loc.
func benchShard(b *testing.B, loc persist.Location, rows, parts int) *persist.Client {
	ctx := context.Background()
	c := persist.NewClient(loc, persist.ClientOptions{LeaseDuration: time.Hour})
	w, err := c.OpenWriter(ctx, testShard)
	if err != nil {
		b.Fatal(err)
	}
	// The source's reader moves its since with its progress; hold the
	// shard's since at 0 so every iteration can read again.
	hold, err := c.OpenReader(ctx, testShard, "bench since holder")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = hold.Expire(context.Background()) })
	per := rows / parts
	for p := range parts {
		us := make([]persist.Update, per)
		for i := range per {
			k := binary.BigEndian.AppendUint64(make([]byte, 8, 16), uint64(p*per+i))
			us[i] = persist.Update{Key: k, Val: k, Time: frontier.Time(p), Diff: 1}
		}
		if err := w.CompareAndAppend(ctx, us, frontier.From(frontier.Time(p)), frontier.From(frontier.Time(p+1))); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// plainReplay fetches every part of the snapshot at asOf with concurrency
// fetches at once and touches every row: the baseline the source is
// measured against.
func plainReplay(b *testing.B, c *persist.Client, asOf frontier.Time, concurrency int) int64 {
	ctx := context.Background()
	r, err := c.OpenReader(ctx, testShard, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer r.Expire(ctx)
	parts, err := r.Snapshot(ctx, asOf)
	if err != nil {
		b.Fatal(err)
	}
	var total atomic.Int64
	var g errgroup.Group
	g.SetLimit(concurrency)
	for _, p := range parts {
		g.Go(func() error {
			defer p.Lease.Release()
			f, err := c.FetchLeased(ctx, p)
			if err != nil {
				return err
			}
			var n int64
			for i := range f.Len() {
				n += int64(len(f.Key(i))+len(f.Val(i))) + int64(f.Time(i)) + f.Diff(i)
			}
			total.Add(int64(f.Len()))
			f.Release()
			_ = n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return total.Load()
}

// sourceReplay runs the source over the whole shard with workers workers
// and touches every row.
func sourceReplay(b *testing.B, c *persist.Client, asOf, until frontier.Time, workers, concurrency int) int64 {
	var total atomic.Int64
	err := dataflow.Execute(dataflow.Config{Workers: workers}, func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "bench", func(s *dataflow.Scope[frontier.Time]) {
			parts, _ := Source(s, "bench", func(context.Context) (*persist.Client, error) { return c, nil }, testShard,
				Options[[]byte, []byte]{
					AsOf: ptr(frontier.From(asOf)), Until: frontier.From(until), FetchConcurrency: concurrency,
					KeyCodec: codec.Bytes{}, ValCodec: codec.Bytes{},
				})
			bd := dataflow.NewBuilder(s, "consume")
			in := dataflow.AddInput(bd, parts, dataflow.Pipeline[*Part[[]byte, []byte]]())
			bd.Build(func([]*dataflow.Capability[frontier.Time]) func() {
				return func() {
					in.ForEach(func(_ dataflow.CapabilityRef[frontier.Time], ps []*Part[[]byte, []byte]) {
						for _, p := range ps {
							var n int64
							for i := range p.Len() {
								n += int64(len(p.Key(i))+len(p.Val(i))) + int64(p.Time(i)) + p.Diff(i)
							}
							total.Add(int64(p.Len()))
							p.Release()
							_ = n
						}
					})
				}
			})
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	return total.Load()
}

// BenchmarkReplay: a shard of 1M rows in 64 parts on a file blob store,
// replayed by the source with 1 and 2 workers and by a plain loop with the
// same fetch concurrency.
func BenchmarkReplay(b *testing.B) {
	const rows, parts, concurrency = 1 << 20, 64, 4
	ctx := context.Background()
	blob, err := location.OpenBlob(ctx, location.PathURL("file", b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	loc := persist.Location{Blob: blob, Consensus: mem.NewConsensus()}
	defer loc.Close()
	c := benchShard(b, loc, rows, parts)
	asOf, until := frontier.Time(parts-1), frontier.Time(parts)
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			if n := plainReplay(b, c, asOf, concurrency); n != rows {
				b.Fatalf("%d rows", n)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("source/workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				if n := sourceReplay(b, c, asOf, until, workers, concurrency); n != rows {
					b.Fatalf("%d rows", n)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// latencyBlob adds a fixed latency to every read.
type latencyBlob struct {
	location.Blob
	d time.Duration // set between runs only
}

func (l *latencyBlob) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if l.d == 0 {
		return l.Blob.Get(ctx, key)
	}
	t := time.NewTimer(l.d) // simulated latency
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, false, location.Determinate("blob get", ctx.Err())
	}
	return l.Blob.Get(ctx, key)
}

// BenchmarkFetchConcurrency: 32 small parts behind 20 ms of read latency,
// replayed at FetchConcurrency 1, 8 and 32. fixed is a run with no latency
// (registering the reader, listing, decoding); speedup compares the time
// spent beyond fixed with that of concurrency 1 in the same run: linear
// would equal the concurrency (for 32 parts, 32 at most).
func BenchmarkFetchConcurrency(b *testing.B) {
	const parts = 32
	lat := &latencyBlob{Blob: mem.NewBlob()}
	loc := persist.Location{Blob: lat, Consensus: mem.NewConsensus()}
	c := benchShard(b, loc, parts*64, parts)
	var fixed, base time.Duration
	b.Run("fixed", func(b *testing.B) {
		for b.Loop() {
			sourceReplay(b, c, parts-1, parts, 1, parts)
		}
		fixed = b.Elapsed() / time.Duration(b.N)
	})
	lat.d = 20 * time.Millisecond
	for _, conc := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			for b.Loop() {
				sourceReplay(b, c, parts-1, parts, 1, conc)
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(parts)/per.Seconds(), "parts/s")
			if conc == 1 {
				base = per
			}
			if base > 0 && per > fixed {
				b.ReportMetric(float64(base-fixed)/float64(per-fixed), "speedup")
			}
		})
	}
}
