package dataflow_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
)

// collect adds a sink that records, per worker, every record it receives
// and the time it arrived at; it checks that records never arrive at a time
// its input frontier has already passed.
func collect[D any](t testing.TB, s *dataflow.Stream[T, D], pact dataflow.Pact[D], got func(T, D)) {
	b := dataflow.NewBuilder(s.Scope(), "collect")
	in := dataflow.AddInput(b, s, pact)
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		return func() {
			in.ForEach(func(ref dataflow.CapabilityRef[T], data []D) {
				for _, d := range data {
					got(ref.Time(), d)
				}
			})
		}
	})
}

// buildExchange feeds 0..n-1 from worker 0's input at time i/100 and
// exchanges them by value.
func buildExchange(w *dataflow.Worker, n int, onRecord func(worker int, t T, d uint64), t testing.TB) *dataflow.InputHandle[T, uint64] {
	return buildExchangeWith(w, n, onRecord, t, nil)
}

// buildExchangeWith is buildExchange calling inBuild, if not nil, at the
// end of the build function.
func buildExchangeWith(w *dataflow.Worker, n int, onRecord func(worker int, t T, d uint64), t testing.TB, inBuild func()) *dataflow.InputHandle[T, uint64] {
	var input *dataflow.InputHandle[T, uint64]
	dataflow.Dataflow(w, "exchange", func(s *dataflow.Scope[T]) {
		var stream *dataflow.Stream[T, uint64]
		input, stream = dataflow.NewInput[uint64](s)
		collect(t, stream, dataflow.Exchange(func(d uint64) uint64 { return d }), func(tm T, d uint64) {
			onRecord(w.Index(), tm, d)
		})
		if inBuild != nil {
			inBuild()
		}
	})
	if w.Index() == 0 {
		for i := range n {
			input.AdvanceTo(T(i / 100))
			input.Send(uint64(i))
		}
	}
	input.Close()
	return input
}

// eachOnce fails the test unless seen counts every record of 0..n-1
// exactly once: a lost record and a duplicated one alike.
func eachOnce(t *testing.T, what string, seen map[uint64]int, n int) {
	t.Helper()
	if len(seen) != n {
		t.Fatalf("%s: saw %d distinct records, want %d", what, len(seen), n)
	}
	for d, c := range seen {
		if c != 1 {
			t.Fatalf("%s: record %d seen %d times", what, d, c)
		}
	}
}

func TestExecuteExchange(t *testing.T) {
	const n = 1000
	var mu sync.Mutex
	seen := map[uint64]int{}
	err := dataflow.Execute(dataflow.Config{Workers: 3, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
		buildExchange(w, n, func(worker int, tm T, d uint64) {
			mu.Lock()
			defer mu.Unlock()
			if int(d%3) != worker {
				t.Errorf("record %d on worker %d", d, worker)
			}
			if T(d/100) != tm {
				t.Errorf("record %d at time %v", d, tm)
			}
			seen[d]++
		}, t)
	})
	if err != nil {
		t.Fatal(err)
	}
	eachOnce(t, "exchange", seen, n)
}

func TestClusterExchangeSeeds(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		c := dataflowtest.NewCluster(2+int(seed%3), seed)
		seen := map[uint64]int{}
		c.Build(func(w *dataflow.Worker) {
			buildExchange(w, 300, func(worker int, tm T, d uint64) { seen[d]++ }, t)
		})
		if err := c.Run(100000); err != nil {
			t.Fatal(err)
		}
		eachOnce(t, fmt.Sprintf("seed %d", seed), seen, 300)
		if err := c.Close(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

// A panic on one worker stops the others, even while their driving code
// waits for progress that will never come.
func TestExecutePanicStopsPeers(t *testing.T) {
	err := dataflow.Execute(dataflow.Config{Workers: 2, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
		probe := dataflow.NewProbeHandle[T]()
		var input *dataflow.InputHandle[T, int]
		dataflow.Dataflow(w, "p", func(s *dataflow.Scope[T]) {
			var st *dataflow.Stream[T, int]
			input, st = dataflow.NewInput[int](s)
			dataflow.ProbeWith(st, probe)
		})
		if w.Index() == 1 {
			panic("boom")
		}
		input.Close()
		for !probe.Done() { // worker 1 never closes its input
			w.StepOrPark(dataflow.Forever)
		}
	})
	var pe *dataflow.PanicError
	if !errors.As(err, &pe) || pe.Worker != 1 || pe.Value != "boom" {
		t.Fatalf("Execute = %v, want worker 1's panic", err)
	}
	// Worker 0, stopped, is named as aborted; what it held is no leak.
	// (Before, its error was dropped, and ErrAborted never returned.)
	var le *dataflow.LeakError
	if !errors.Is(err, dataflow.ErrAborted) || !strings.Contains(err.Error(), "workers [0] stopped") || errors.As(err, &le) {
		t.Fatalf("Execute = %v, want worker 0 named as aborted, and no leak", err)
	}
}

// A worker that builds a dataflow after its peer has already run it keeps
// the data, progress and presses that arrived first, and applies them once
// built: nothing is lost and the dataflow completes on both.
func TestLateBuilderReceivesEarlyEnvelopes(t *testing.T) {
	lateBuild(t, func(c *dataflowtest.Cluster) {
		c.Fabric.DeliverAll(c.Rand)
		c.Workers[1].Step() // receives envelopes for a dataflow it has not built
	}, nil)
}

// A build function may step its worker (to wait on an earlier dataflow's
// probe, say): envelopes that arrive meanwhile for the dataflow being
// built are kept and applied once it is built, as for one not yet begun.
func TestStepInsideBuildKeepsEnvelopes(t *testing.T) {
	lateBuild(t, nil, func(c *dataflowtest.Cluster) {
		c.Fabric.DeliverAll(c.Rand)
		c.Workers[1].Step() // receives envelopes for the dataflow it is building
	})
}

// lateBuild runs an exchange of 200 records that worker 0 builds and steps
// 20 times (calling before, if not nil, after each step) before worker 1
// builds it (calling inBuild, if not nil, inside its build function), for
// 10 seeds; every record must arrive once, on its worker.
func lateBuild(t *testing.T, before, inBuild func(*dataflowtest.Cluster)) {
	t.Helper()
	for seed := uint64(1); seed <= 10; seed++ {
		c := dataflowtest.NewCluster(2, seed)
		seen := map[uint64]int{}
		wrong := 0
		record := func(worker int, _ T, d uint64) {
			seen[d]++
			if int(d%2) != worker {
				wrong++
			}
		}
		buildExchange(c.Workers[0], 200, record, t)
		for range 20 {
			c.Workers[0].Step()
			if before != nil {
				before(c)
			}
		}
		if c.Fabric.Sent() == 0 {
			t.Fatalf("seed %d: worker 0 sent nothing before worker 1 built", seed)
		}
		var hook func()
		if inBuild != nil {
			hook = func() { inBuild(c) }
		}
		buildExchangeWith(c.Workers[1], 200, record, t, hook)
		if err := c.Run(100000); err != nil {
			t.Fatal(err)
		}
		if wrong != 0 {
			t.Fatalf("seed %d: %d records on the wrong worker", seed, wrong)
		}
		eachOnce(t, fmt.Sprintf("seed %d", seed), seen, 200)
		if err := c.Close(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

// A worker parked without a timeout wakes when a peer sends it data or
// progress: each worker here steps only with StepOrPark(Forever), so the
// exchange completes only if every message wakes its receiver.
func TestPeerMessageWakesParkedWorker(t *testing.T) {
	ws := dataflow.NewWorkers(dataflow.Config{Workers: 2})
	var mu sync.Mutex
	seen := map[uint64]int{}
	done := make(chan error, len(ws))
	for _, w := range ws {
		buildExchange(w, 300, func(_ int, _ T, d uint64) {
			mu.Lock()
			defer mu.Unlock()
			seen[d]++
		}, t)
	}
	for _, w := range ws {
		go func() {
			for w.StepOrPark(dataflow.Forever) {
			}
			done <- w.Close()
		}()
	}
	for range ws {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a worker parked for good: a peer's message did not wake it")
		}
	}
	eachOnce(t, "parked workers", seen, 300)
}

// Workers that build one dataflow with different graphs fail with a panic
// that says so, on the first envelope between them: progress about an
// operator or port the receiver does not have, or a different one at the
// same index. (Before, worker 0 applied worker 1's progress to its own
// graph: an index out of range in the tracker, or, with as many operators
// wired otherwise, counts at the wrong ports.)
func TestWorkersBuildingDifferentGraphsFail(t *testing.T) {
	for _, extra := range []string{"another operator", "another edge"} {
		err := dataflow.Execute(dataflow.Config{Workers: 2, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
			probe := dataflow.NewProbeHandle[T]()
			var inputs []*dataflow.InputHandle[T, int]
			dataflow.Dataflow(w, "mismatched", func(s *dataflow.Scope[T]) {
				a, sa := dataflow.NewInput[int](s)
				b, sb := dataflow.NewInput[int](s)
				inputs = append(inputs, a, b)
				from := sa
				if w.Index() == 1 && extra == "another edge" {
					from = sb
				}
				dataflow.ProbeWith(from, probe)
				if w.Index() == 1 && extra == "another operator" {
					c, _ := dataflow.NewInput[int](s)
					inputs = append(inputs, c)
				}
			})
			for _, in := range inputs {
				in.Close()
			}
			for !probe.Done() {
				w.StepOrPark(dataflow.Forever)
			}
		})
		var pe *dataflow.PanicError
		if !errors.As(err, &pe) || !strings.Contains(fmt.Sprint(pe.Value), "built it with another graph") {
			t.Fatalf("%s on worker 1: Execute = %v, want a panic saying the graphs differ", extra, err)
		}
	}
}
