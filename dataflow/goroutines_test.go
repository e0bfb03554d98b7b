package dataflow_test

import (
	"runtime"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
)

// A worker steps its operators on the goroutine that calls Step: a
// dataflow of hundreds of operators on two workers runs on the workers'
// two goroutines, and building and stepping it starts no more (one per
// operator would be hundreds).
func TestOneGoroutinePerWorker(t *testing.T) {
	const workers, stages = 2, 300
	var before, most int
	var sum [workers]uint64
	err := dataflow.Execute(dataflow.Config{Workers: workers, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
		if w.Index() == 0 {
			before = runtime.NumGoroutine() // the workers' own included
		}
		var input *dataflow.InputHandle[T, uint64]
		dataflow.Dataflow(w, "chain", func(s *dataflow.Scope[T]) {
			var st *dataflow.Stream[T, uint64]
			input, st = dataflow.NewInput[uint64](s)
			for range stages {
				st = stage(st, "stage", viaSession, func(b []uint64) {
					for j := range b {
						b[j]++
					}
				})
			}
			collectBatches(st, func(b []uint64) {
				for _, v := range b {
					sum[w.Index()] += v
				}
			})
		})
		input.SendBatch([]uint64{1, 2, 3})
		input.Close()
		for w.Step() {
			if w.Index() == 0 {
				most = max(most, runtime.NumGoroutine()-before)
			}
		}
		if w.Index() == 0 {
			most = max(most, runtime.NumGoroutine()-before)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(1 + 2 + 3 + 3*stages); sum[0] != want || sum[1] != want {
		t.Fatalf("sums %v, want %d on each worker: the dataflow did not run", sum, want)
	}
	if most > 2 {
		t.Fatalf("%d goroutines more than the workers' while %d operators were built and ran on %d workers", most, workers*(stages+2), workers)
	}
}
