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

// measureP6 replays a shard at least ten times the fetch memory budget on
// one worker, sampling the heap, and reports the peak.
func measureP6(ctx context.Context, e *env) (rows []Row, err error) {
	parts := max(e.cfg.Parts, 64)
	s, err := e.shardFor(ctx, max(e.cfg.Rows, parts), parts)
	if err != nil {
		return nil, err
	}
	pb, pr := s.maxPart()
	budget := int64(2*p6Slots) * (pb + pr*decodedRowBytes)
	client := persist.NewClient(e.loc, persist.ClientOptions{})
	release, err := holdSince(ctx, client, s)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, release()) }()

	var peaks []float64
	var before uint64
	for i := range e.cfg.Runs + 1 {
		runtime.GC()
		h := startHeapSampler(time.Millisecond)
		n, err := replayShard(ctx, client, s, replayOpts{workers: 1, fetchConcurrency: p6Slots, resultBuffer: p6Slots})
		peak, start := h.stop()
		if err := checkRows("replay", n, s.rows, err); err != nil {
			return nil, err
		}
		if i > 0 {
			peaks = append(peaks, float64(peak))
			before = start
		}
	}
	const mib = 1 << 20
	peak := median(peaks)
	limit := float64(budget + 64*mib)
	r := newRow("P6", fmt.Sprintf("peak heap replaying %.1f MiB of parts (%.0fx the fetch budget)",
		float64(s.bytes)/mib, float64(s.bytes)/float64(budget)), "MiB", peak/mib, limit/mib)
	r = r.judge("ratio < 1", r.Ratio < 1)
	r.Note = fmt.Sprintf("baseline: budget + 64 MiB, budget = %d fetched parts x (blob + decoded bytes) = %.2f MiB; heap before the replay %.1f MiB; sampled every 1ms",
		2*p6Slots, float64(budget)/mib, float64(before)/mib)
	if s.bytes < 10*budget {
		r.Note += "; the shard is under ten times the budget: raise --parts"
	}
	return []Row{r}, nil
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
