package dataflow_test

import (
	"testing"

	"github.com/shardflow/shardflow/dataflow"
)

// A batch read from an input and passed on with GiveBatch, through a
// Session by CapabilityRef value, by pointer and through SessionAt, costs no
// allocation in steady state: neither the session nor the progress
// accounting allocates per batch.
func TestPassingBatchesDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[T, uint64]
	var free [][]uint64
	dataflow.Dataflow(w, "alloc", func(s *dataflow.Scope[T]) {
		var st *dataflow.Stream[T, uint64]
		input, st = dataflow.NewInput[uint64](s)
		st = stage(st, "pass", viaSession, nil)
		st = stage(st, "pass", func(o *dataflow.OutPort[T, uint64], r dataflow.CapabilityRef[T]) dataflow.Session[T, uint64] {
			return o.Session(&r)
		}, nil)
		st = stage(st, "pass", (*dataflow.OutPort[T, uint64]).SessionAt, nil)
		st = dataflow.ProbeWith(st, dataflow.NewProbeHandle[T]())
		collectBatches(st, func(data []uint64) { free = append(free, data) })
	})
	free = append(free, make([]uint64, 16))
	send := func() {
		buf := free[len(free)-1]
		free = free[:len(free)-1]
		input.SendBatch(buf)
		w.Step()
	}
	for range 10 {
		send()
	}
	if allocs := testing.AllocsPerRun(100, send); allocs != 0 {
		t.Errorf("%.1f allocations per batch; want 0", allocs)
	}
	input.Close()
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A session sizes its buffer by the last message its output sent: a
// trickle of single records gets small buffers, and a stream of full
// batches gets buffers of BatchSize, allocated once per batch and never
// grown.
func TestSessionBufferFollowsMessageSize(t *testing.T) {
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[T, uint64]
	var caps []int
	dataflow.Dataflow(w, "sizes", func(s *dataflow.Scope[T]) {
		var st *dataflow.Stream[T, uint64]
		input, st = dataflow.NewInput[uint64](s)
		collectBatches(st, func(data []uint64) { caps = append(caps, cap(data)) })
	})
	step := func(records int) int {
		caps = caps[:0]
		for i := range records {
			input.Send(uint64(i))
		}
		w.Step()
		if len(caps) == 0 {
			t.Fatalf("%d records sent, no message received", records)
		}
		return caps[len(caps)-1]
	}
	for i := range 3 {
		if c := step(1); c >= 64 {
			t.Errorf("single record %d: buffer of capacity %d; want a small one", i, c)
		}
	}
	step(3 * dataflow.BatchSize) // grows once, then sends full batches
	for i := range 3 {
		if c := step(dataflow.BatchSize); c != dataflow.BatchSize {
			t.Errorf("full batch %d: buffer of capacity %d; want %d", i, c, dataflow.BatchSize)
		}
	}
	input.Close()
	for w.Step() {
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
