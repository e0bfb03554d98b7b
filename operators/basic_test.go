package operators_test

import (
	"iter"
	"slices"
	"strconv"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/operators"
)

func TestRecordOperators(t *testing.T) {
	w := dataflow.NewWorker()
	var in *dataflow.InputHandle[T, int]
	var mapped, filtered, flat, inspected, batches, passed []string
	dataflow.Dataflow(w, "ops", func(s *dataflow.Scope[T]) {
		var nums *dataflow.Stream[T, int]
		in, nums = operators.Input[int](s)
		sink(t, operators.Map(nums, func(x int) string { return "n" + strconv.Itoa(x) }), &mapped)
		sink(t, operators.Filter(nums, func(x int) bool { return x%2 == 0 }), &filtered)
		sink(t, operators.FlatMap(nums, func(x int) iter.Seq[int] { return slices.Values(slices.Repeat([]int{x}, x)) }), &flat)
		ins := operators.Inspect(nums, func(tm T, x int) { inspected = append(inspected, strconv.Itoa(x)+"@"+strconv.Itoa(int(tm))) })
		ins = operators.InspectBatch(ins, func(tm T, xs []int) { batches = append(batches, strconv.Itoa(len(xs))+"@"+strconv.Itoa(int(tm))) })
		sink(t, ins, &passed) // both pass every record on
	})
	in.SendBatch([]int{0, 1, 2})
	in.AdvanceTo(3)
	in.Send(3)
	in.Close()
	runSingle(t, w)
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("Map", mapped, "n0@0", "n1@0", "n2@0", "n3@3")
	check("Filter", filtered, "0@0", "2@0")
	check("FlatMap", flat, "1@0", "2@0", "2@0", "3@3", "3@3", "3@3")
	check("Inspect", inspected, "0@0", "1@0", "2@0", "3@3")
	check("InspectBatch", batches, "3@0", "1@3")
	check("Inspect and InspectBatch output", passed, "0@0", "1@0", "2@0", "3@3")
}

// Map to the same type rewrites the batch in place; the input must not see
// the change through another consumer of the same stream.
func TestMapInPlaceDoesNotLeakToSiblings(t *testing.T) {
	w := dataflow.NewWorker()
	var in *dataflow.InputHandle[T, int]
	var a, b []string
	dataflow.Dataflow(w, "siblings", func(s *dataflow.Scope[T]) {
		var nums *dataflow.Stream[T, int]
		in, nums = operators.Input[int](s)
		sink(t, operators.Map(nums, func(x int) int { return x * 10 }), &a)
		sink(t, nums, &b)
	})
	in.SendBatch([]int{1, 2})
	in.Close()
	runSingle(t, w)
	if !slices.Equal(a, []string{"10@0", "20@0"}) || !slices.Equal(b, []string{"1@0", "2@0"}) {
		t.Fatalf("got %v and %v", a, b)
	}
}

func TestConcatAndProbe(t *testing.T) {
	w := dataflow.NewWorker()
	var in1, in2 *dataflow.InputHandle[T, string]
	var probe *dataflow.ProbeHandle[T]
	var got []string
	dataflow.Dataflow(w, "concat", func(s *dataflow.Scope[T]) {
		var s1, s2 *dataflow.Stream[T, string]
		in1, s1 = operators.Input[string](s)
		in2, s2 = operators.Input[string](s)
		var merged *dataflow.Stream[T, string]
		probe, merged = operators.Probe(operators.Concat(s1, s2))
		sink(t, merged, &got)
	})
	in1.Send("a")
	in1.AdvanceTo(5)
	stepUntil(t, w, func() bool { return len(got) == 1 })
	if !probe.LessThan(1) || probe.Done() {
		t.Fatal("probe passed time 0 while the second input is still at 0")
	}
	in2.AdvanceTo(2)
	in2.Send("b")
	stepUntil(t, w, func() bool { return !probe.LessThan(2) })
	if probe.LessThan(3) != true || !probe.Frontier().Equal(frontierOf(2)) {
		t.Fatalf("probe frontier %v, want {2}", probe.Frontier())
	}
	in2.Close()
	stepUntil(t, w, func() bool { return !probe.LessThan(5) })
	in1.Close()
	stepUntil(t, w, probe.Done)
	runSingle(t, w)
	slices.Sort(got)
	if !slices.Equal(got, []string{"a@0", "b@2"}) {
		t.Fatalf("got %v", got)
	}
}

// Every record reaches the worker its hash names, whatever the number of
// workers (a power of two or not) and wherever it was sent from. With the
// identity hash every record a worker sends is its own (the local share
// stays in place); with a mixing hash most belong to others.
func TestExchangeRoutesByHash(t *testing.T) {
	identity := func(x uint64) uint64 { return x }
	mixing := func(x uint64) uint64 { return x * 0x9e3779b97f4a7c15 >> 17 }
	for _, c := range []struct {
		workers int
		hash    func(uint64) uint64
	}{{3, identity}, {2, mixing}, {3, mixing}, {4, mixing}} {
		workers, hash := c.workers, c.hash
		const n = 5000
		counts := make([]int, workers)
		err := dataflow.Execute(dataflow.Config{Workers: workers, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
			var in *dataflow.InputHandle[T, uint64]
			dataflow.Dataflow(w, "exchange", func(s *dataflow.Scope[T]) {
				var nums *dataflow.Stream[T, uint64]
				in, nums = operators.Input[uint64](s)
				ex := operators.Exchange(nums, hash)
				operators.Inspect(ex, func(_ T, x uint64) {
					if int(hash(x)%uint64(workers)) != w.Index() {
						t.Errorf("%d workers: record %d on worker %d", workers, x, w.Index())
					}
					counts[w.Index()]++ // each worker writes only its own slot
				})
			})
			for i := range uint64(n) {
				if int(i)%workers == w.Index() {
					in.Send(i)
				}
			}
			in.Close()
		})
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, c := range counts {
			total += c
		}
		if total != n {
			t.Fatalf("%d workers: saw %d records, want %d", workers, total, n)
		}
	}
}
