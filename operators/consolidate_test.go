package operators_test

import (
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/operators"
)

type up = operators.Update[string]

// Updates at several times arrive out of order (through two inputs whose
// frontiers differ); each time is emitted once, consolidated, after the
// frontier passes it, and zero sums vanish.
func TestConsolidateOutOfOrderTimes(t *testing.T) {
	w := dataflow.NewWorker()
	var a, b *dataflow.InputHandle[T, up]
	link := operators.NewEventLink[T, up]()
	var probe *dataflow.ProbeHandle[T]
	dataflow.Dataflow(w, "consolidate", func(s *dataflow.Scope[T]) {
		var sa, sb *dataflow.Stream[T, up]
		a, sa = operators.Input[up](s)
		b, sb = operators.Input[up](s)
		var out *dataflow.Stream[T, up]
		probe, out = operators.Probe(operators.Consolidate(operators.Concat(sa, sb)))
		operators.Capture(out, link)
	})
	a.AdvanceTo(5)
	a.SendBatch([]up{{"x", 1}, {"y", 2}, {"x", 1}})
	b.AdvanceTo(2)
	b.SendBatch([]up{{"y", 1}, {"z", 3}})
	stepUntil(t, w, func() bool { return !probe.LessThan(2) })
	settle(t, w)
	if got := updatesByTime(t, []*operators.EventLink[T, up]{link}); got != "" {
		t.Fatalf("with the frontier at 2, emitted:\n%s", got)
	}
	b.AdvanceTo(3)
	b.SendBatch([]up{{"z", -3}, {"x", 4}})
	b.AdvanceTo(5)
	b.SendBatch([]up{{"y", -2}, {"w", 1}})
	a.SendBatch([]up{{"w", -1}, {"v", 0}})
	stepUntil(t, w, func() bool { return !probe.LessThan(5) })
	settle(t, w)
	if got := updatesByTime(t, []*operators.EventLink[T, up]{link}); got != "x:4@3\ny:1@2\nz:-3@3\nz:3@2" {
		t.Fatalf("with the frontier at 5:\n%s", got)
	}
	a.Close()
	b.Close()
	runSingle(t, w)
	if got := updatesByTime(t, []*operators.EventLink[T, up]{link}); got != "x:2@5\nx:4@3\ny:1@2\nz:-3@3\nz:3@2" {
		t.Fatalf("at the end:\n%s", got)
	}
	// Each time's updates come as one message, in first-seen order, and
	// the messages come in time order.
	var times []T
	for _, e := range link.Events() {
		if e.Kind == operators.MessagesEvent {
			times = append(times, e.Time)
		}
	}
	if !slices.Equal(times, []T{2, 3, 5}) {
		t.Fatalf("message times %v", times)
	}
	for _, e := range link.Events() {
		if e.Kind != operators.MessagesEvent || e.Time != 3 {
			continue
		}
		// z then x at 3, as b sent them ({z -3} {x 4}).
		if len(e.Data) != 2 || e.Data[0].Data != "z" || e.Data[1].Data != "x" {
			t.Fatalf("the updates at 3 came as %v, want z then x, as first seen", e.Data)
		}
	}
}

func TestConsolidateExchangeGathersEqualData(t *testing.T) {
	for run := 1; run <= 4; run++ { // Execute's interleavings differ run to run
		const workers = 3
		links := make([]*operators.EventLink[T, up], workers)
		err := dataflow.Execute(dataflow.Config{Workers: workers, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
			var in *dataflow.InputHandle[T, up]
			links[w.Index()] = operators.NewEventLink[T, up]()
			dataflow.Dataflow(w, "cx", func(s *dataflow.Scope[T]) {
				var ups *dataflow.Stream[T, up]
				in, ups = operators.Input[up](s)
				operators.Capture(operators.ConsolidateExchange(ups, fnv), links[w.Index()])
			})
			// Every worker sends +1 for "a" and "b" at time 1, and worker
			// 0 retracts "b" twice more than it added.
			in.AdvanceTo(1)
			in.SendBatch([]up{{"a", 1}, {"b", 1}})
			if w.Index() == 0 {
				in.Send(up{"b", -workers})
			}
			in.Close()
		})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if got := updatesByTime(t, links); got != "a:3@1" {
			t.Fatalf("run %d: got\n%s", run, got)
		}
		checkPlacement(t, links)
	}
}

// checkPlacement fails if a datum was emitted by a worker other than
// fnv(datum) % peers, where ConsolidateExchange's doc puts it.
func checkPlacement(t *testing.T, links []*operators.EventLink[T, up]) {
	t.Helper()
	for w, l := range links {
		for _, e := range l.Events() {
			for _, u := range e.Data {
				if want := int(fnv(u.Data) % uint64(len(links))); want != w {
					t.Fatalf("%q consolidated on worker %d, want hash %% peers = %d", u.Data, w, want)
				}
			}
		}
	}
}

// Random updates from every worker, whose inputs advance independently
// (so times reach Consolidate out of order), consolidated across workers
// under the seeded harness, against a direct sum.
func TestConsolidateModelClusterSeeds(t *testing.T) {
	type key struct {
		d  string
		tm T
	}
	for seed := uint64(1); seed <= 10; seed++ {
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 3))
		workers := 1 + int(seed%3)
		c := dataflowtest.NewCluster(workers, seed)
		links := make([]*operators.EventLink[T, up], workers)
		inputs := make([]*dataflow.InputHandle[T, up], workers)
		c.Build(func(w *dataflow.Worker) {
			links[w.Index()] = operators.NewEventLink[T, up]()
			dataflow.Dataflow(w, "model", func(s *dataflow.Scope[T]) {
				var ups *dataflow.Stream[T, up]
				inputs[w.Index()], ups = operators.Input[up](s)
				operators.Capture(operators.ConsolidateExchange(ups, fnv), links[w.Index()])
			})
		})
		sums := map[key]int64{}
		for range 300 {
			in := inputs[rng.IntN(workers)]
			if rng.IntN(4) == 0 {
				in.AdvanceTo(in.Time() + T(rng.IntN(3)))
			} else {
				u := up{Data: string(rune('a' + rng.IntN(5))), Diff: int64(rng.IntN(5) - 2)}
				in.Send(u)
				sums[key{u.Data, in.Time()}] += u.Diff
			}
			c.Tick()
		}
		for _, in := range inputs {
			in.Close()
		}
		if err := c.Run(200000); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		model := operators.NewEventLink[T, up]()
		for k, d := range sums {
			if d != 0 {
				model.Push(operators.Messages(k.tm, []up{{Data: k.d, Diff: d}}))
			}
		}
		want := updatesByTime(t, []*operators.EventLink[T, up]{model})
		if got := updatesByTime(t, links); got != want {
			t.Fatalf("seed %d (%d workers): got\n%s\nwant\n%s", seed, workers, got, want)
		}
		checkPlacement(t, links)
	}
}

// The diffs Consolidate emits for a datum sum exactly to its input's, also
// beyond the int64 range: such a sum goes out as several updates that
// each fit. (Before, MaxInt64 and 1 came out as one update of MinInt64, and
// a sum of 2^64 wrapped to 0 and the datum vanished.) A sum that wraps and
// comes back, w, is one update as usual.
func TestConsolidateSumOutOfRange(t *testing.T) {
	const max, min = math.MaxInt64, math.MinInt64
	w := dataflow.NewWorker()
	var in *dataflow.InputHandle[T, up]
	var got []up
	dataflow.Dataflow(w, "consolidate", func(s *dataflow.Scope[T]) {
		var st *dataflow.Stream[T, up]
		in, st = operators.Input[up](s)
		operators.Inspect(operators.Consolidate(st), func(_ T, u up) { got = append(got, u) })
	})
	in.SendBatch([]up{{"x", max}, {"x", 1}, {"y", max}, {"y", max}, {"y", 2}, {"z", min}, {"z", -1},
		{"w", max}, {"w", 3}, {"w", -5}, {"v", 1}, {"v", -1}})
	in.Close()
	runSingle(t, w)
	sums := map[string]*big.Int{}
	for _, u := range got {
		if u.Diff == 0 {
			t.Errorf("emitted %v: a zero diff", u)
		}
		if sums[u.Data] == nil {
			sums[u.Data] = new(big.Int)
		}
		sums[u.Data].Add(sums[u.Data], big.NewInt(u.Diff))
	}
	want := map[string]*big.Int{
		"x": new(big.Int).Add(big.NewInt(max), big.NewInt(1)),
		"y": new(big.Int).Lsh(big.NewInt(1), 64),
		"z": new(big.Int).Sub(big.NewInt(min), big.NewInt(1)),
		"w": big.NewInt(max - 2),
	}
	if len(sums) != len(want) {
		t.Fatalf("emitted %v: data %d, want x, y, z and w", got, len(sums))
	}
	for d, s := range want {
		if sums[d] == nil || sums[d].Cmp(s) != 0 {
			t.Errorf("emitted %v: %s sums to %v, want %v", got, d, sums[d], s)
		}
	}
	if n := len(got); n != 2+3+2+1 {
		t.Errorf("emitted %d updates, want 8 (x, y and z as few as fit, w in one): %v", n, got)
	}
}

// Consolidate forgets a time once it has emitted it: the data of the times
// the frontier passed are collected while the dataflow still runs. (An
// operator that kept each time's state grew with every time it saw.)
func TestConsolidateReleasesPassedTimes(t *testing.T) {
	type datum struct{ _ [256]byte } // not tiny: the allocator batches tiny objects
	const times = 64
	w := dataflow.NewWorker()
	var in *dataflow.InputHandle[T, operators.Update[*datum]]
	var probe *dataflow.ProbeHandle[T]
	emitted := 0
	dataflow.Dataflow(w, "consolidate", func(s *dataflow.Scope[T]) {
		var st *dataflow.Stream[T, operators.Update[*datum]]
		in, st = operators.Input[operators.Update[*datum]](s)
		var out *dataflow.Stream[T, operators.Update[*datum]]
		probe, out = operators.Probe(operators.Consolidate(st))
		// Counts what it is given and keeps none of it.
		operators.Inspect(out, func(T, operators.Update[*datum]) { emitted++ })
	})
	var collected atomic.Int64
	for i := range T(times) {
		in.AdvanceTo(i)
		d := &datum{}
		runtime.AddCleanup(d, func(*atomic.Int64) { collected.Add(1) }, &collected)
		in.SendBatch([]operators.Update[*datum]{{Data: d, Diff: 1}, {Data: d, Diff: 1}})
	}
	in.AdvanceTo(times)
	stepUntil(t, w, func() bool { return !probe.LessThan(times) })
	settle(t, w)
	if emitted != times {
		t.Fatalf("emitted %d updates, want one for each of %d times", emitted, times)
	}
	deadline := time.Now().Add(10 * time.Second)
	for collected.Load() < times {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d data of passed times collected: the operator still holds the rest", collected.Load(), times)
		}
		runtime.GC()
		w.Step()
	}
	in.Close()
	runSingle(t, w)
}
