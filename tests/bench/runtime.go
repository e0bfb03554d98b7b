package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/operators"
)

// The P3 pipeline: stages functions applied to batches of batchLen uint64s.
const (
	stages   = 10
	batchLen = 1024
)

// stageFuncs are the stage functions every P3 variant applies, called
// through func values so that no variant gets them inlined.
var stageFuncs = func() []func(uint64) uint64 {
	fs := make([]func(uint64) uint64, stages)
	for i := range fs {
		k := uint64(i + 1)
		fs[i] = func(x uint64) uint64 { return x*3 + k }
	}
	return fs
}()

// fillBatch writes the next records (counting from *next, at most up to
// records) into buf and returns it.
func fillBatch(buf []uint64, next *uint64, records uint64) []uint64 {
	buf = buf[:min(uint64(batchLen), records-*next)]
	for i := range buf {
		buf[i] = *next
		*next++
	}
	return buf
}

// chainLoop is P3's first baseline: the stages as a plain loop over
// batches. It returns the sum of the outputs.
func chainLoop(records int) uint64 {
	var sum, next uint64
	buf := make([]uint64, batchLen)
	for next < uint64(records) {
		b := fillBatch(buf, &next, uint64(records))
		for _, f := range stageFuncs {
			applyStage(f, b)
		}
		for _, x := range b {
			sum += x
		}
	}
	return sum
}

// applyStage applies one stage to a batch in place, as a call of its
// own, as a Map operator's loop over a batch is. Written inline in
// chainLoop, the same loop took 20 ns a record against 15 here. Both this
// loop's speed and the dataflow's Map loop's move by up to a fifth with
// where the linker puts them (moving this function to the end of the
// file alone made both 18), so P3's ratio carries that much of code
// layout; see tests/bench/PERFORMANCE.md.
//
//go:noinline
func applyStage(f func(uint64) uint64, b []uint64) {
	for i, x := range b {
		b[i] = f(x)
	}
}

// chainDataflow is P3 on shardflow: an input, ten Map operators and a sink
// on one worker, stepped after every batch. Batches are recycled from the
// sink, so neither it nor chainLoop allocates per batch.
func chainDataflow(records int) (uint64, error) {
	w := dataflow.NewWorker()
	sum := runChain(w, 0, uint64(records))
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("chain dataflow: %w", err)
	}
	return *sum, nil
}

// chainDataflowWorkers is P3 on shardflow with workers workers, each
// running the chain of chainDataflow over its share of the records, as
// the channel pipeline runs its stages on every core.
func chainDataflowWorkers(records, workers int) (uint64, error) {
	sums := make([]*uint64, workers)
	err := dataflow.Execute(dataflow.Config{Workers: workers}, func(w *dataflow.Worker) {
		i, n := uint64(w.Index()), uint64(w.Peers())
		sums[i] = runChain(w, uint64(records)*i/n, uint64(records)*(i+1)/n)
	})
	if err != nil {
		return 0, fmt.Errorf("chain dataflow on %d workers: %w", workers, err)
	}
	var total uint64
	for _, s := range sums {
		total += *s
	}
	return total, nil
}

// runChain builds the chain on w and feeds it the records [from, to),
// stepping w after each batch, then closes its input. The sum of its
// outputs is complete once w has stepped the chain to its end.
func runChain(w *dataflow.Worker, from, to uint64) *uint64 {
	var input *dataflow.InputHandle[frontier.Time, uint64]
	var free [][]uint64
	var sum uint64
	dataflow.Dataflow(w, "bench-chain", func(s *dataflow.Scope[frontier.Time]) {
		var stream *dataflow.Stream[frontier.Time, uint64]
		input, stream = operators.Input[uint64](s)
		for _, f := range stageFuncs {
			stream = operators.Map(stream, f)
		}
		operators.InspectBatch(stream, func(_ frontier.Time, data []uint64) {
			for _, x := range data {
				sum += x
			}
			free = append(free, data[:cap(data)])
		})
	})
	for next := from; next < to; {
		var buf []uint64
		if k := len(free); k > 0 {
			buf, free = free[k-1], free[:k-1]
		} else {
			buf = make([]uint64, batchLen)
		}
		input.SendBatch(fillBatch(buf, &next, to))
		w.Step()
	}
	input.Close()
	return &sum
}

// chainChannels is P3's second baseline: a goroutine per stage, batches
// passed along channels and recycled through a free channel.
func chainChannels(records int) uint64 {
	const inflight = 4
	free := make(chan []uint64, inflight)
	for range inflight {
		free <- make([]uint64, batchLen)
	}
	chans := make([]chan []uint64, stages+1)
	for i := range chans {
		chans[i] = make(chan []uint64, 1)
	}
	var wg sync.WaitGroup
	for i, f := range stageFuncs {
		wg.Go(func() {
			for b := range chans[i] {
				for j, x := range b {
					b[j] = f(x)
				}
				chans[i+1] <- b
			}
			close(chans[i+1])
		})
	}
	var sum uint64
	wg.Go(func() {
		for b := range chans[stages] {
			for _, x := range b {
				sum += x
			}
			free <- b[:cap(b)]
		}
	})
	var next uint64
	for next < uint64(records) {
		chans[0] <- fillBatch(<-free, &next, uint64(records))
	}
	close(chans[0])
	wg.Wait()
	return sum
}

// measureP3 compares the Map chain on one worker with the plain loop, and
// on as many workers as cores with the channel pipeline, which uses every
// core, in nanoseconds per record, and checks all compute the same sum.
func measureP3(ctx context.Context, e *env) ([]Row, error) {
	n := e.cfg.Records
	want := chainLoop(n)
	check := func(what string, got uint64) error {
		if got != want {
			return fmt.Errorf("%w: %s sum %d, plain loop %d", ErrWrongResult, what, got, want)
		}
		return nil
	}
	cores := runtime.GOMAXPROCS(0)
	ts, err := interleaved(ctx, e.cfg.Runs,
		func() error {
			sum, err := chainDataflow(n)
			if err != nil {
				return err
			}
			return check("dataflow", sum)
		},
		func() error { return check("loop", chainLoop(n)) },
		func() error { return check("channels", chainChannels(n)) },
		func() error {
			sum, err := chainDataflowWorkers(n, cores)
			if err != nil {
				return err
			}
			return check("dataflow on every core", sum)
		})
	if err != nil {
		return nil, err
	}
	sf, loop, chans, sfAll := ts[0].wall, ts[1].wall, ts[2].wall, ts[3].wall
	sfCPU, loopCPU, chansCPU, sfAllCPU := ts[0].cpu, ts[1].cpu, ts[2].cpu, ts[3].cpu
	what := fmt.Sprintf("%d Map stages, %d records, batches of %d", stages, n, batchLen)
	perRec := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) }
	r1 := newRow("P3", what+" vs plain loop", "ns/record", perRec(sf), perRec(loop))
	r1 = r1.judge("ratio <= 1.5", r1.Ratio <= 1.5)
	r1.Note = fmt.Sprintf("wall time, one worker, spread %.0f%%/%.0f%%; CPU ns/record %.3g vs %.3g",
		100*ts[0].spread, 100*ts[1].spread, perRec(sfCPU), perRec(loopCPU))
	// The pipeline runs its stages on every core, so it is judged against
	// the dataflow on as many workers, each running the chain over its
	// share of the records; the one-worker figure is shown beside it.
	r2 := newRow("P3", fmt.Sprintf("%s, %d workers vs channel pipeline", what, cores), "ns/record", perRec(sfAll), perRec(chans))
	r2 = r2.judge("ratio < 1", r2.Ratio < 1)
	r2.Note = fmt.Sprintf("wall time, spread %.0f%%/%.0f%%; baseline: a goroutine per stage joined by channels, on %d cores; CPU ns/record %.3g vs %.3g",
		100*ts[3].spread, 100*ts[2].spread, cores, perRec(sfAllCPU), perRec(chansCPU))
	r3 := newRow("P3", what+", one worker vs channel pipeline", "ns/record", perRec(sf), perRec(chans))
	r3.Note = fmt.Sprintf("not judged: one core against %d; CPU ns/record %.3g vs %.3g", cores, perRec(sfCPU), perRec(chansCPU))
	return []Row{r1, r2, r3}, nil
}

// idleOps is how many idle operators P4's worker holds.
const idleOps = 1000

// idleWorker returns a worker whose only dataflow is a chain of idleOps
// operators that have run once and wait for input that never comes, and a
// function that ends the dataflow and closes the worker.
func idleWorker() (*dataflow.Worker, func() error) {
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[frontier.Time, int]
	dataflow.Dataflow(w, "bench-idle", func(s *dataflow.Scope[frontier.Time]) {
		var stream *dataflow.Stream[frontier.Time, int]
		input, stream = operators.Input[int](s)
		for range idleOps {
			stream = operators.Map(stream, func(x int) int { return x })
		}
	})
	for range 3 {
		w.Step() // every operator's first run and its progress
	}
	return w, func() error {
		input.Close()
		for w.Step() {
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("idle dataflow: %w", err)
		}
		return nil
	}
}

// measureP4 times Step on a worker holding idleOps idle operators, per
// operator.
func measureP4(ctx context.Context, e *env) ([]Row, error) {
	w, finish := idleWorker()
	d, err := timed(ctx, e.cfg.Runs, func() error {
		for range e.cfg.Steps {
			w.Step()
		}
		return nil
	})
	if ferr := finish(); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	ns := float64(d.Nanoseconds()) / float64(e.cfg.Steps) / idleOps
	r := newRow("P4", fmt.Sprintf("Step with %d idle operators", idleOps), "ns/idle-op", ns, 0)
	r.Note = fmt.Sprintf("median of %d runs of %d Steps; no baseline", e.cfg.Runs, e.cfg.Steps)
	return []Row{r.judge("< 10 ns", ns < 10)}, nil
}
