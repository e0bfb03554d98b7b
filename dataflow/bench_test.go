package dataflow_test

import (
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
)

// BenchmarkStepIdle measures one Step of a worker whose dataflow has 1000
// operators that are all idle: the step loop must not touch them. Reported
// as ns per idle operator.
func BenchmarkStepIdle(b *testing.B) {
	const ops = 1000
	w := dataflow.NewWorker()
	var caps []*dataflow.Capability[T]
	dataflow.Dataflow(w, "idle", func(s *dataflow.Scope[T]) {
		_, stream := dataflow.NewInput[int](s)
		for range ops {
			bl := dataflow.NewBuilder(s, "idle")
			in := dataflow.AddInput(bl, stream, dataflow.Pipeline[int]())
			_, next := dataflow.AddOutput[int](bl)
			bl.Build(func(c []*dataflow.Capability[T]) func() {
				caps = append(caps, c[0])
				return func() { in.ForEach(func(dataflow.CapabilityRef[T], []int) {}) }
			})
			stream = next
		}
	})
	for range 3 {
		w.Step() // the initial run of every operator and its progress
	}
	b.ResetTimer()
	for b.Loop() {
		w.Step()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ops, "ns/idle-op")
	b.StopTimer()
	for _, c := range caps {
		c.Drop()
	}
	w.Close()
}

const (
	pipelineRecords = 10_000_000
	pipelineBatch   = 1024
	pipelineMaps    = 10
)

var mapFuncs = func() []func(uint64) uint64 {
	fs := make([]func(uint64) uint64, pipelineMaps)
	for i := range fs {
		k := uint64(i + 1)
		fs[i] = func(x uint64) uint64 { return x*3 + k }
	}
	return fs
}()

func mapOp(s *dataflow.Stream[T, uint64], f func(uint64) uint64) *dataflow.Stream[T, uint64] {
	return stage(s, "map", viaSession, func(data []uint64) {
		for i, x := range data {
			data[i] = f(x)
		}
	})
}

// BenchmarkPipeline pushes 10M records in batches of 1024 through 10
// trivial map operators; "plain" applies the same functions to the same
// batches in a Go loop. Run with -benchtime=2x.
func BenchmarkPipeline(b *testing.B) {
	b.Run("dataflow", func(b *testing.B) {
		for b.Loop() {
			w := dataflow.NewWorker()
			var input *dataflow.InputHandle[T, uint64]
			var sum uint64
			var free [][]uint64
			dataflow.Dataflow(w, "pipeline", func(s *dataflow.Scope[T]) {
				var st *dataflow.Stream[T, uint64]
				input, st = dataflow.NewInput[uint64](s)
				for _, f := range mapFuncs {
					st = mapOp(st, f)
				}
				collectBatches(st, func(data []uint64) {
					for _, x := range data {
						sum += x
					}
					free = append(free, data[:0])
				})
			})
			for i := 0; i < pipelineRecords; i += pipelineBatch {
				var batch []uint64
				if n := len(free); n > 0 {
					batch, free = free[n-1], free[:n-1]
				} else {
					batch = make([]uint64, 0, pipelineBatch)
				}
				for j := range pipelineBatch {
					batch = append(batch, uint64(i+j))
				}
				input.SendBatch(batch)
				if i%(16*pipelineBatch) == 0 {
					input.AdvanceTo(T(i / (16 * pipelineBatch)))
				}
				w.Step()
			}
			input.Close()
			for w.Step() {
			}
			if sum == 0 {
				b.Fatal("nothing arrived")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/pipelineRecords, "ns/record")
	})
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			var sum uint64
			batch := make([]uint64, 0, pipelineBatch)
			for i := 0; i < pipelineRecords; i += pipelineBatch {
				batch = batch[:0]
				for j := range pipelineBatch {
					batch = append(batch, uint64(i+j))
				}
				for _, f := range mapFuncs {
					for k, x := range batch {
						batch[k] = f(x)
					}
				}
				for _, x := range batch {
					sum += x
				}
			}
			if sum == 0 {
				b.Fatal("nothing summed")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/pipelineRecords, "ns/record")
	})
}

// BenchmarkExchange measures records per second exchanged between two
// workers: each sends 1M records, half of which cross to the other worker.
func BenchmarkExchange(b *testing.B) {
	const perWorker = 1 << 20
	start := time.Now()
	for b.Loop() {
		err := dataflow.Execute(dataflow.Config{Workers: 2}, func(w *dataflow.Worker) {
			var input *dataflow.InputHandle[T, uint64]
			dataflow.Dataflow(w, "exchange", func(s *dataflow.Scope[T]) {
				var st *dataflow.Stream[T, uint64]
				input, st = dataflow.NewInput[uint64](s)
				sb := dataflow.NewBuilder(s, "sink")
				in := dataflow.AddInput(sb, st, dataflow.Exchange(func(x uint64) uint64 { return x }))
				sb.SetNotify(0, false)
				sb.Build(func([]*dataflow.Capability[T]) func() {
					return func() { in.ForEach(func(dataflow.CapabilityRef[T], []uint64) {}) }
				})
			})
			for i := 0; i < perWorker; i += pipelineBatch {
				batch := make([]uint64, pipelineBatch)
				for j := range batch {
					batch[j] = uint64(i + j)
				}
				input.SendBatch(batch)
				w.Step()
			}
			input.Close()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*perWorker*b.N)/time.Since(start).Seconds(), "records/s")
}
