package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"golang.org/x/sync/errgroup"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/codec"
	"github.com/shardflow/shardflow/shardsource"
)

// replayOpts shape one replay of a shard through shardsource.
type replayOpts struct {
	workers          int
	fetchConcurrency int
	resultBuffer     int
}

// replayShard reads every row of s through a shard source on
// o.workers workers and returns how many rows arrived. The client must
// reach s's shard; some reader must hold the shard's since at or before
// s.asOf() (see holdSince).
func replayShard(ctx context.Context, client *persist.Client, s *shard, o replayOpts) (int64, error) {
	var rows atomic.Int64
	var mu struct {
		sync.Mutex
		tokens []*shardsource.Tokens
	}
	clientFn := func(context.Context) (*persist.Client, error) { return client, nil }
	asOf := frontier.From(s.asOf())
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, t := range mu.tokens {
			t.Drop()
		}
	})
	defer stop()
	err := dataflow.Execute(dataflow.Config{Workers: o.workers}, func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "bench-replay", func(sc *dataflow.Scope[frontier.Time]) {
			parts, tokens := shardsource.Source(sc, "bench", clientFn, s.id, shardsource.Options[[]byte, []byte]{
				AsOf:             &asOf,
				Until:            frontier.From(s.until()),
				KeyCodec:         codec.Bytes{},
				ValCodec:         codec.Bytes{},
				FetchConcurrency: o.fetchConcurrency,
				ResultBuffer:     o.resultBuffer,
			})
			mu.Lock()
			mu.tokens = append(mu.tokens, tokens)
			mu.Unlock()
			if ctx.Err() != nil {
				tokens.Drop()
			}
			operators.InspectBatch(parts, func(_ frontier.Time, ps []*shardsource.Part[[]byte, []byte]) {
				var n int64
				for _, p := range ps {
					n += int64(p.Len())
					p.Release()
				}
				rows.Add(n)
			})
		})
	})
	if err != nil {
		return rows.Load(), fmt.Errorf("replay %s on %d workers: %w", s.id, o.workers, err)
	}
	if err := ctx.Err(); err != nil {
		return rows.Load(), err
	}
	return rows.Load(), nil
}

// holdSince registers a reader that keeps s's since at its start for as
// long as the returned release has not been called, so that every replay
// may read as of s.asOf() again.
func holdSince(ctx context.Context, client *persist.Client, s *shard) (release func() error, err error) {
	r, err := client.OpenReader(ctx, s.id, "bench: since hold")
	if err != nil {
		return nil, fmt.Errorf("hold since of %s: %w", s.id, err)
	}
	return func() error { return r.Expire(context.WithoutCancel(ctx)) }, nil
}

// striped reads n parts on conc goroutines: goroutine w reads parts w,
// w+conc, ... with the function newRead makes for it (so each may keep its
// own scratch), and the rows they return are summed.
func striped(ctx context.Context, conc, n int, newRead func() func(ctx context.Context, i int) (int64, error)) (int64, error) {
	var rows atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for w := range conc {
		read := newRead()
		g.Go(func() error {
			for i := w; i < n; i += conc {
				k, err := read(ctx, i)
				if err != nil {
					return err
				}
				rows.Add(k)
			}
			return nil
		})
	}
	err := g.Wait()
	return rows.Load(), err
}

// plainReplay is the baseline of a replay: conc goroutines each Get their
// share of the part blobs and decode every column with the Parquet file
// reader, one part after another. It returns the rows decoded.
func plainReplay(ctx context.Context, loc persist.Location, s *shard, conc int) (int64, error) {
	return striped(ctx, conc, len(s.parts), func() func(context.Context, int) (int64, error) {
		var scratch decodeScratch
		return func(ctx context.Context, i int) (int64, error) {
			p := s.parts[i]
			data, ok, err := loc.Blob.Get(ctx, p.Key)
			if err != nil {
				return 0, fmt.Errorf("get %s: %w", p.Key, err)
			}
			if !ok {
				return 0, fmt.Errorf("get %s: missing", p.Key)
			}
			n, err := scratch.decode(data)
			if err != nil {
				return 0, fmt.Errorf("decode %s: %w", p.Key, err)
			}
			return n, nil
		}
	})
}

// fetchReplay is the tighter baseline of a replay: the same read through
// persist's own API in a plain loop, with no dataflow. It registers a
// leased reader, takes the snapshot as of s.asOf(), and conc goroutines
// each fetch their share of the parts (read, verify the checksum, decode,
// filter, consolidate) and release their leases; then it expires the
// reader. A replay does this work and more. It returns the rows fetched.
func fetchReplay(ctx context.Context, client *persist.Client, s *shard, conc int) (int64, error) {
	return leasedRead(ctx, client, s, "bench: fetch loop", func(parts []persist.LeasedPart) (int64, error) {
		return fetchParts(ctx, client, parts, conc)
	})
}

// leasedRead registers a leased reader of s, takes its snapshot as of
// s.asOf(), has read fetch the parts, and expires the reader.
func leasedRead(ctx context.Context, client *persist.Client, s *shard, purpose string, read func([]persist.LeasedPart) (int64, error)) (n int64, err error) {
	r, err := client.OpenReader(ctx, s.id, purpose)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, r.Expire(context.WithoutCancel(ctx))) }()
	parts, err := r.Snapshot(ctx, s.asOf())
	if err != nil {
		return 0, err
	}
	return read(parts)
}

// fetchParts fetches parts on conc goroutines, each its share in turn.
func fetchParts(ctx context.Context, client *persist.Client, parts []persist.LeasedPart, conc int) (int64, error) {
	return striped(ctx, conc, len(parts), func() func(context.Context, int) (int64, error) {
		return func(ctx context.Context, i int) (int64, error) {
			f, err := client.FetchLeased(ctx, parts[i])
			parts[i].Lease.Release()
			if err != nil {
				return 0, err
			}
			defer f.Release()
			return int64(f.Len()), nil
		}
	})
}

// pipelinedFetchReplay is fetchReplay with the replay's division of work:
// for each of conc decoders, a reader goroutine reads its share of the
// parts (FetchEncodedLeased: the blob read and the size check) and hands
// them over a one-slot channel to a decoding goroutine (Decode: checksum,
// decode, filter), as a fetch goroutine hands parts to a worker at
// FetchConcurrency 1 and ResultBuffer 1. With one decoder it uses two
// cores where fetchReplay uses one, as the replay does.
func pipelinedFetchReplay(ctx context.Context, client *persist.Client, s *shard, conc int) (int64, error) {
	return leasedRead(ctx, client, s, "bench: pipelined fetch loop", func(parts []persist.LeasedPart) (int64, error) {
		return pipelinedFetch(ctx, client, parts, conc)
	})
}

// pipelinedFetch fetches parts on conc reader/decoder pairs.
func pipelinedFetch(ctx context.Context, client *persist.Client, parts []persist.LeasedPart, conc int) (int64, error) {
	var rows atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for w := range conc {
		read := make(chan *persist.EncodedPart, 1)
		rctx, stop := context.WithCancel(ctx)
		// stopped is what the reader returns for err: nothing when its
		// decoder stopped it, which returns the error that made it stop.
		stopped := func(err error) error {
			if ctx.Err() == nil && rctx.Err() != nil {
				return nil
			}
			return err
		}
		g.Go(func() error {
			defer close(read)
			for i := w; i < len(parts); i += conc {
				e, err := client.FetchEncodedLeased(rctx, parts[i])
				parts[i].Lease.Release()
				if err != nil {
					return stopped(err)
				}
				select {
				case read <- e:
				case <-rctx.Done():
					e.Release()
					return stopped(rctx.Err())
				}
			}
			return nil
		})
		g.Go(func() error {
			defer func() {
				stop() // a failed decode stops the reader early
				for e := range read {
					e.Release()
				}
			}()
			for e := range read {
				f, err := e.Decode()
				if err != nil {
					return err
				}
				rows.Add(int64(f.Len()))
				f.Release()
			}
			return nil
		})
	}
	err := g.Wait()
	return rows.Load(), err
}

// decodeScratch holds the buffers one baseline goroutine decodes into.
type decodeScratch struct {
	bytes  []parquet.ByteArray
	ints   []int64
	keyLen int64 // sum of decoded key and value lengths, so nothing is skipped
}

// decode reads every value of every column of a part (key and val byte
// arrays, time and diff int64s) and returns the row count.
func (d *decodeScratch) decode(data []byte) (int64, error) {
	// arrow-go's default reader settings, as a Go user would start with.
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	defer rdr.Close()
	const batch = 4096
	if d.bytes == nil {
		d.bytes, d.ints = make([]parquet.ByteArray, batch), make([]int64, batch)
	}
	var rows int64
	for g := range rdr.NumRowGroups() {
		rg := rdr.RowGroup(g)
		n := rg.NumRows()
		rows += n
		for col := range rg.NumColumns() {
			cr, err := rg.Column(col)
			if err != nil {
				return 0, err
			}
			for left := n; left > 0; {
				var got int64
				switch r := cr.(type) {
				case *file.ByteArrayColumnChunkReader:
					got, _, err = r.ReadBatchInPage(min(left, batch), d.bytes, nil, nil)
					for _, v := range d.bytes[:got] {
						d.keyLen += int64(len(v))
					}
				case *file.Int64ColumnChunkReader:
					got, _, err = r.ReadBatchInPage(min(left, batch), d.ints, nil, nil)
				default:
					return 0, fmt.Errorf("column %d: unexpected reader %T", col, cr)
				}
				if err != nil {
					return 0, err
				}
				if got <= 0 {
					return 0, fmt.Errorf("column %d: %d values missing", col, left)
				}
				left -= got
			}
		}
	}
	return rows, nil
}
