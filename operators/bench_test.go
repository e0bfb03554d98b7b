package operators_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/operators"
)

// The chained-map benchmark: benchRecords uint64s, in batches of
// benchBatch, through benchStages functions that each add one. Every
// variant applies the same function values stage by stage to each batch
// and recycles batches, so that none allocates per batch.
const (
	benchRecords = 10_000_000
	benchBatch   = 1024
	benchStages  = 10
)

func addOne(x uint64) uint64 { return x + 1 }

var benchStagesFuncs = func() []func(uint64) uint64 {
	fs := make([]func(uint64) uint64, benchStages)
	for i := range fs {
		fs[i] = addOne
	}
	return fs
}()

// wantSum is the checksum of one run: sum over i of (i + stages).
const wantSum = uint64(benchRecords)*(benchRecords-1)/2 + benchRecords*benchStages

func fill(buf []uint64, next *uint64) []uint64 {
	buf = buf[:benchBatch]
	for i := range buf {
		buf[i] = *next
		*next++
	}
	return buf
}

// perRecord reports wall and CPU nanoseconds per record; call its result
// after the loop.
func perRecord(b *testing.B) func(sum uint64) {
	start, measured := cpuTime()
	return func(sum uint64) {
		if sum != wantSum {
			b.Fatalf("checksum %d, want %d", sum, wantSum)
		}
		n := float64(b.N) * benchRecords
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/record")
		if end, _ := cpuTime(); measured {
			b.ReportMetric(float64((end-start).Nanoseconds())/n, "cpu-ns/record")
		}
	}
}

func BenchmarkChainedMap(b *testing.B) {
	b.Run("loop", func(b *testing.B) {
		var sum uint64
		report := perRecord(b)
		for b.Loop() {
			sum = runChainedLoop()
		}
		report(sum)
	})
	for _, every := range []int{1, 16} {
		b.Run(fmt.Sprintf("dataflow/step-every-%d", every), func(b *testing.B) {
			var sum uint64
			report := perRecord(b)
			for b.Loop() {
				sum = runChainedDataflow(every)
			}
			report(sum)
		})
	}
	b.Run("dataflow/2-workers", func(b *testing.B) {
		var sum uint64
		report := perRecord(b)
		for b.Loop() {
			sum = runChainedDataflow2()
		}
		report(sum)
	})
	b.Run("channels", func(b *testing.B) {
		var sum uint64
		report := perRecord(b)
		for b.Loop() {
			sum = runChainedChannels()
		}
		report(sum)
	})
}

// runChainedLoop is the computation as a plain loop over batches.
func runChainedLoop() uint64 {
	var sum uint64
	buf := make([]uint64, benchBatch)
	var next uint64
	for range benchRecords / benchBatch {
		buf = fill(buf, &next)
		for _, f := range benchStagesFuncs {
			for i := range buf {
				buf[i] = f(buf[i])
			}
		}
		for _, x := range buf {
			sum += x
		}
	}
	return sum + tail(&next, nil)
}

// tail processes the records that do not fill a whole batch, through the
// plain functions, so every variant covers exactly benchRecords records.
func tail(next *uint64, _ []uint64) uint64 {
	var sum uint64
	for *next < benchRecords {
		x := *next
		*next++
		for _, f := range benchStagesFuncs {
			x = f(x)
		}
		sum += x
	}
	return sum
}

// chain builds on w an input, the benchmark's Map stages and a sink that
// adds every record into *sum and hands each batch back to *free for the
// input to reuse (the runtime has handed it over).
func chain(w *dataflow.Worker, name string, sum *uint64, free *[][]uint64) *dataflow.InputHandle[T, uint64] {
	var input *dataflow.InputHandle[T, uint64]
	dataflow.Dataflow(w, name, func(s *dataflow.Scope[T]) {
		var stream *dataflow.Stream[T, uint64]
		input, stream = operators.Input[uint64](s)
		for _, f := range benchStagesFuncs {
			stream = operators.Map(stream, f)
		}
		operators.InspectBatch(stream, func(_ T, data []uint64) {
			for _, x := range data {
				*sum += x
			}
			*free = append(*free, data)
		})
	})
	return input
}

func runChainedDataflow(stepEvery int) uint64 {
	w := dataflow.NewWorker()
	var free [][]uint64
	var sum uint64
	input := chain(w, "chain", &sum, &free)
	var next uint64
	for n := range benchRecords / benchBatch {
		var buf []uint64
		if k := len(free); k > 0 {
			buf, free = free[k-1], free[:k-1]
		} else {
			buf = make([]uint64, benchBatch)
		}
		input.SendBatch(fill(buf, &next))
		if n%stepEvery == stepEvery-1 {
			w.Step()
		}
	}
	input.Close()
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return sum + tail(&next, nil)
}

// runChainedDataflow2 runs the chain on two workers under Execute, each
// sending every other batch: the pipeline's parallel form.
func runChainedDataflow2() uint64 {
	var sums [2]uint64
	err := dataflow.Execute(dataflow.Config{Workers: 2}, func(w *dataflow.Worker) {
		var free [][]uint64
		input := chain(w, "chain", &sums[w.Index()], &free)
		for n := range benchRecords / benchBatch {
			if n%2 != w.Index() {
				continue
			}
			var buf []uint64
			if k := len(free); k > 0 {
				buf, free = free[k-1], free[:k-1]
			} else {
				buf = make([]uint64, benchBatch)
			}
			next := uint64(n * benchBatch)
			input.SendBatch(fill(buf, &next))
			w.Step()
		}
		input.Close()
	})
	if err != nil {
		panic(err)
	}
	next := uint64(benchRecords / benchBatch * benchBatch)
	return sums[0] + sums[1] + tail(&next, nil)
}

func runChainedChannels() uint64 {
	const depth = 16
	free := make(chan []uint64, 64)
	chans := make([]chan []uint64, benchStages+1)
	for i := range chans {
		chans[i] = make(chan []uint64, depth)
	}
	var wg sync.WaitGroup
	for i, f := range benchStagesFuncs {
		in, out := chans[i], chans[i+1]
		wg.Go(func() {
			for buf := range in {
				for j := range buf {
					buf[j] = f(buf[j])
				}
				out <- buf
			}
			close(out)
		})
	}
	var sum uint64
	wg.Go(func() {
		for buf := range chans[benchStages] {
			for _, x := range buf {
				sum += x
			}
			select {
			case free <- buf:
			default:
			}
		}
	})
	var next uint64
	for range benchRecords / benchBatch {
		var buf []uint64
		select {
		case buf = <-free:
		default:
			buf = make([]uint64, benchBatch)
		}
		chans[0] <- fill(buf, &next)
	}
	close(chans[0])
	wg.Wait()
	return sum + tail(&next, nil)
}

// BenchmarkExchange2Workers measures records per second through Exchange
// between two workers: each worker sends half the records, in batches,
// and about half of each worker's records cross to the other.
func BenchmarkExchange2Workers(b *testing.B) {
	const records = 2_000_000
	var total uint64
	for b.Loop() {
		var counts [2]uint64
		err := dataflow.Execute(dataflow.Config{Workers: 2}, func(w *dataflow.Worker) {
			var input *dataflow.InputHandle[T, uint64]
			dataflow.Dataflow(w, "exchange", func(s *dataflow.Scope[T]) {
				var stream *dataflow.Stream[T, uint64]
				input, stream = operators.Input[uint64](s)
				ex := operators.Exchange(stream, func(x uint64) uint64 { return x * 0x9e3779b97f4a7c15 >> 32 })
				operators.InspectBatch(ex, func(_ T, data []uint64) { counts[w.Index()] += uint64(len(data)) })
			})
			var next uint64 = uint64(w.Index()) * records / 2
			for n := range records / 2 / benchBatch {
				buf := make([]uint64, benchBatch)
				for i := range buf {
					buf[i] = next
					next++
				}
				input.SendBatch(buf)
				if n%4 == 3 {
					w.Step()
				}
			}
			input.Close()
		})
		if err != nil {
			b.Fatal(err)
		}
		total = counts[0] + counts[1]
	}
	if want := uint64(records / 2 / benchBatch * benchBatch * 2); total != want {
		b.Fatalf("received %d records, want %d", total, want)
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkBatchOverhead measures what moving one batch from one operator
// to the next costs the runtime: batches of 8 records through ten Maps
// that add one, a Step per batch, reported per batch and stage. The
// records are few so that the runtime's work, not theirs, dominates.
func BenchmarkBatchOverhead(b *testing.B) {
	const batch = 8
	w := dataflow.NewWorker()
	var free [][]uint64
	var sum uint64
	input := chain(w, "overhead", &sum, &free)
	free = append(free, make([]uint64, batch))
	var next uint64
	for b.Loop() {
		buf := free[len(free)-1]
		free = free[:len(free)-1]
		for i := range buf {
			buf[i] = next
			next++
		}
		input.SendBatch(buf)
		w.Step()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchStages, "ns/batch-stage")
	b.StopTimer()
	if want := next*(next-1)/2 + next*benchStages; sum != want {
		b.Fatalf("sum %d, want %d", sum, want)
	}
	input.Close()
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
