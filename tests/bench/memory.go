package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/shardflow/shardflow/persist"
)

// heapMetric is the live-and-unswept heap: what P6 watches.
const heapMetric = "/memory/classes/heap/objects:bytes"

// decodedRowBytes is the memory a decoded row of the generated shard
// takes: its key and value, their two 4-byte offsets, its time and diff.
const decodedRowBytes = keyBytes + valBytes + 4 + 4 + 8 + 8

// p6Slots is FetchConcurrency and ResultBuffer for P6: at most 2*p6Slots
// fetched parts exist on its one worker.
const p6Slots = 1

// p6Parts is the most parts of P6's shard (Config.P6Rows rows): 4M rows
// in 256 parts are about 150 MiB of part blobs against a budget of about
// 3 MiB, so a replay that ignored its budget and held the shard would
// exceed budget + 64 MiB twice over (the control row shows it does). A
// shard smaller than the slack could never fail the goal.
const p6Parts = 256

// p6Shard returns P6's shard and its fetch budget: 2*p6Slots fetched
// parts of the largest size, blob bytes plus decoded bytes.
func p6Shard(ctx context.Context, e *env) (s *shard, budget int64, err error) {
	s, err = e.shardFor(ctx, e.cfg.P6Rows, min(e.cfg.P6Rows, p6Parts))
	if err != nil {
		return nil, 0, err
	}
	pb, pr := s.maxPart()
	return s, int64(2*p6Slots) * (pb + pr*decodedRowBytes), nil
}

// p6Limit is P6's goal: the budget plus 64 MiB.
func p6Limit(budget int64) int64 { return budget + 64<<20 }

// heapRun is what one sampled run did to the heap.
type heapRun struct {
	start, peak uint64
}

// growth is the run's own use: the peak over the heap it started with.
func (h heapRun) growth() uint64 { return h.peak - min(h.start, h.peak) }

// sampled runs fn from a collected heap, sampling the heap every
// millisecond.
func sampled(fn func() error) (heapRun, error) {
	runtime.GC()
	h := startHeapSampler(time.Millisecond)
	err := fn()
	peak, start := h.stop()
	return heapRun{start: start, peak: peak}, err
}

// p6Replay is one of P6's replays: one worker at FetchConcurrency and
// ResultBuffer p6Slots.
func p6Replay(ctx context.Context, client *persist.Client, s *shard) (heapRun, error) {
	return sampled(func() error {
		n, err := replayShard(ctx, client, s, replayOpts{workers: 1, fetchConcurrency: p6Slots, resultBuffer: p6Slots})
		return checkRows("replay", n, s.rows, err)
	})
}

// p6Eager is P6's control: a leased reader's snapshot with every part
// fetched and held at once, what a reader with no budget would hold.
func p6Eager(ctx context.Context, client *persist.Client, s *shard) (heapRun, error) {
	return sampled(func() (err error) {
		r, err := client.OpenReader(ctx, s.id, "bench: eager fetch")
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, r.Expire(context.WithoutCancel(ctx))) }()
		parts, err := r.Snapshot(ctx, s.asOf())
		if err != nil {
			return err
		}
		held := make([]*persist.FetchedPart, 0, len(parts))
		defer func() {
			for _, f := range held {
				f.Release()
			}
		}()
		var n int64
		for _, p := range parts {
			f, err := client.FetchLeased(ctx, p)
			p.Lease.Release()
			if err != nil {
				return err
			}
			held = append(held, f)
			n += int64(f.Len())
		}
		return checkRows("eager fetch", n, s.rows, nil)
	})
}

// measureP6 replays a shard many times the fetch memory budget, and larger
// than the goal's slack, on one worker, sampling the heap; it reports the
// median peak, and the peak of the eager control, which must fail the goal
// for the measure to mean anything.
func measureP6(ctx context.Context, e *env) (rows []Row, err error) {
	s, budget, err := p6Shard(ctx, e)
	if err != nil {
		return nil, err
	}
	client := persist.NewClient(e.loc, persist.ClientOptions{})
	release, err := holdSince(ctx, client, s)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, release()) }()

	var growths, peaks []float64
	var before uint64
	for i := range e.cfg.Runs + 1 {
		h, err := p6Replay(ctx, client, s)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			growths = append(growths, float64(h.growth()))
			peaks = append(peaks, float64(h.peak))
			before = h.start
		}
	}
	eager, err := p6Eager(ctx, client, s)
	if err != nil {
		return nil, err
	}
	const mib = 1 << 20
	limit := float64(p6Limit(budget))
	r := newRow("P6", fmt.Sprintf("peak heap replaying %.1f MiB of parts (%.0fx the fetch budget)",
		float64(s.bytes)/mib, float64(s.bytes)/float64(budget)), "MiB", median(peaks)/mib, limit/mib)
	r = r.judge("ratio < 1", r.Ratio < 1)
	r.Note = fmt.Sprintf("median of %d, sampled every 1ms; the whole heap, so it counts what the process held before (%.1f MiB: earlier measures' leftovers and persist's free lists of part buffers); the replay's own growth over it: %.1f MiB; baseline: budget + 64 MiB, budget = %d fetched parts x (blob + decoded bytes) = %.2f MiB",
		len(peaks), float64(before)/mib, median(growths)/mib, 2*p6Slots, float64(budget)/mib)
	if s.bytes < 10*budget {
		r.Note += "; the shard is under ten times the budget: raise --p6-rows"
	}
	c := newRow("P6", "control: the same shard fetched and held at once, no budget", "MiB", float64(eager.peak)/mib, limit/mib)
	c = c.judge("ratio >= 1 (the goal can fail)", c.Ratio >= 1)
	c.Note = fmt.Sprintf("peak heap (growth %.1f MiB) of a leased reader's Snapshot with every part's FetchLeased kept until the last: what the replay's budget saves; had it stayed under the limit, P6 could not tell a bounded replay from an unbounded one", float64(eager.growth())/mib)
	return []Row{r, c}, nil
}

// heapSampler reads heapMetric every interval on its own goroutine until
// stopped, keeping the maximum.
type heapSampler struct {
	done  chan struct{}
	wg    sync.WaitGroup
	start uint64
	peak  uint64
}

func readHeap() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapSampler(interval time.Duration) *heapSampler {
	h := &heapSampler{done: make(chan struct{}), start: readHeap()}
	h.peak = h.start
	h.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
				h.peak = max(h.peak, readHeap())
			}
		}
	})
	return h
}

// stop ends the sampling (waiting for the goroutine) and returns the peak
// and the heap at the start.
func (h *heapSampler) stop() (peak, start uint64) {
	close(h.done)
	h.wg.Wait()
	return max(h.peak, readHeap()), h.start
}
