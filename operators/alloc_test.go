package operators_test

import (
	"iter"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/operators"
)

// Map (same type), Filter and Inspect allocate nothing per record or per
// batch: a batch sent through them, recycled at the end and sent again,
// costs no allocation in steady state.
func TestHotPathDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[T, uint64]
	var free [][]uint64
	var seen int
	dataflow.Dataflow(w, "hot", func(s *dataflow.Scope[T]) {
		var stream *dataflow.Stream[T, uint64]
		input, stream = operators.Input[uint64](s)
		stream = operators.Map(stream, func(x uint64) uint64 { return x + 1 })
		stream = operators.Filter(stream, func(x uint64) bool { return x%2 == 0 })
		stream = operators.Inspect(stream, func(_ T, x uint64) { seen++ })
		operators.InspectBatch(stream, func(_ T, data []uint64) { free = append(free, data[:cap(data)]) })
	})
	allocs := allocsPerBatch(w, input, &free, 1024)
	if allocs != 0 {
		t.Errorf("%.1f allocations per 1024-record batch through Map, Filter and Inspect; want 0", allocs)
	}
	if seen != 111*512 { // AllocsPerRun calls send once more to warm up
		t.Errorf("saw %d records", seen)
	}
	input.Close()
	runSingle(t, w)
}

// FlatMap allocates nothing of its own per record: with a function whose
// iterators are built in advance, a batch through it costs no allocation.
func TestFlatMapDoesNotAllocatePerRecord(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[T, uint64]
	var free [][]uint64
	var seen int
	pair := func(yield func(uint64) bool) {
		_ = yield(1) && yield(2)
	}
	dataflow.Dataflow(w, "flat", func(s *dataflow.Scope[T]) {
		var stream *dataflow.Stream[T, uint64]
		input, stream = operators.Input[uint64](s)
		twice := operators.FlatMap(stream, func(uint64) iter.Seq[uint64] { return pair })
		operators.InspectBatch(twice, func(_ T, data []uint64) { seen += len(data) })
		operators.InspectBatch(stream, func(_ T, data []uint64) { free = append(free, data[:cap(data)]) })
	})
	// The input's batch is copied for one of its two readers, and FlatMap
	// sends its output in a new batch: two allocations per batch, none per
	// record.
	if allocs := allocsPerBatch(w, input, &free, dataflow.BatchSize/2); allocs > 2 {
		t.Errorf("%.1f allocations per %d-record batch through FlatMap; want at most 2", allocs, dataflow.BatchSize/2)
	}
	if want := 111 * dataflow.BatchSize; seen != want {
		t.Errorf("saw %d records, want %d", seen, want)
	}
	input.Close()
	runSingle(t, w)
}

// allocsPerBatch sends batches of n records 0, 1, ... through input,
// stepping w after each, and returns the allocations per batch once the
// runtime's buffers are warm. Each batch is taken from *free, where the
// dataflow under test puts back the batches it is done with; it starts
// with one. AllocsPerRun sends 101 batches after the 10 of the warm-up.
func allocsPerBatch(w *dataflow.Worker, input *dataflow.InputHandle[T, uint64], free *[][]uint64, n int) float64 {
	send := func() {
		buf := (*free)[len(*free)-1]
		*free = (*free)[:len(*free)-1]
		for i := range buf {
			buf[i] = uint64(i)
		}
		input.SendBatch(buf)
		w.Step()
	}
	*free = append(*free, make([]uint64, n))
	for range 10 { // warm up the runtime's buffers
		send()
	}
	return testing.AllocsPerRun(100, send)
}
