package dataflow

import (
	"errors"
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/shardflow/shardflow/frontier"
)

type P = frontier.Product[frontier.Time, frontier.Time]

// The tracker against a recomputation from scratch over a partially
// ordered timestamp: a three-operator loop whose feedback advances the
// inner coordinate.
var trackerSeed = flag.Uint64("dataflow.trackerseed", 0, "run TestTrackerProductLoop with this seed only")

func TestTrackerProductLoop(t *testing.T) {
	inc := InnerSummary[frontier.Time, frontier.Time]{Inner: AddTime(1)}
	// op0: source (0 in, 1 out) -> op1 (2 in, 1 out) -> op2 feedback (1
	// in, 1 out, summary inc) -> op1 input 1.
	g := graph[P]{
		internal: [][][]summaryEdge[P]{
			{},
			{{{out: 0}}, {{out: 0}}},
			{{{out: 0, s: inc}}},
		},
		edges: [][][]location{
			{{target(1, 0)}},
			{{target(2, 0)}},
			{{target(1, 1)}},
		},
		outputs: []int{1, 1, 1},
	}
	if c := findCycle(g); c != nil {
		t.Fatalf("cycle %v through a feedback summary", c)
	}
	seed := *trackerSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -dataflow.trackerseed=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 2))
	tr := newTracker(g)
	counts := map[pointstamp[P]]int64{}
	for step := range 500 {
		l := []location{source(0, 0), source(1, 0), target(1, 0), target(2, 0), target(1, 1)}[r.IntN(5)]
		p := P{Outer: frontier.Time(r.IntN(4)), Inner: frontier.Time(r.IntN(4))}
		diff := int64(1)
		ps := pointstamp[P]{l, p}
		if counts[ps] > 0 && r.IntN(2) == 0 {
			diff = -1
		}
		counts[ps] += diff
		tr.update(l, p, diff)
		tr.propagate()
		for op, port := range map[int]int{1: 0, 2: 0} {
			checkAgainstScratch(t, seed, step, g, counts, tr, op, port)
		}
		checkAgainstScratch(t, seed, step, g, counts, tr, 1, 1)
	}
}

func checkAgainstScratch(t *testing.T, seed uint64, step int, g graph[P], counts map[pointstamp[P]]int64, tr *tracker[P], op, port int) {
	t.Helper()
	// From scratch: every positive pointstamp, carried along every path.
	reach := map[location]*frontier.Antichain[P]{}
	var work []pointstamp[P]
	add := func(l location, p P) {
		if reach[l] == nil {
			reach[l] = &frontier.Antichain[P]{}
		}
		if reach[l].Insert(p) {
			work = append(work, pointstamp[P]{l, p})
		}
	}
	for ps, n := range counts {
		if n > 0 {
			add(ps.loc, ps.t)
		}
	}
	for len(work) > 0 {
		ps := work[len(work)-1]
		work = work[:len(work)-1]
		if ps.loc.src {
			for _, to := range g.edges[ps.loc.op][ps.loc.port] {
				add(to, ps.t)
			}
			continue
		}
		for _, e := range g.internal[ps.loc.op][ps.loc.port] {
			t2, ok := ps.t, true
			if e.s != nil {
				t2, ok = e.s.Apply(ps.t)
			}
			if ok {
				add(source(int(ps.loc.op), e.out), t2)
			}
		}
	}
	want := frontier.Antichain[P]{}
	if a := reach[target(op, port)]; a != nil {
		want = *a
	}
	if got := tr.frontier(op, port).Frontier(); !got.Equal(want) {
		t.Fatalf("seed %d step %d: frontier at op%d.in%d is %v, from scratch %v", seed, step, op, port, got, want)
	}
}

func TestFindCycleRefusesIdentityCycle(t *testing.T) {
	// op0 -> op1 -> op0 with identity connections everywhere.
	g := graph[frontier.Time]{
		internal: [][][]summaryEdge[frontier.Time]{{{{out: 0}}}, {{{out: 0}}}},
		edges:    [][][]location{{{target(1, 0)}}, {{target(0, 0)}}},
		outputs:  []int{1, 1},
	}
	if c := findCycle(g); len(c) == 0 {
		t.Fatal("identity cycle not found")
	}
	// Disconnecting op1's input breaks it.
	g.internal[1][0] = nil
	if c := findCycle(g); c != nil {
		t.Fatalf("cycle %v through a disconnected input", c)
	}
	err := error(&GraphError{Dataflow: "x", Reason: ErrCycle, Path: []string{"a", "b", "a"}})
	if !errors.Is(err, ErrCycle) {
		t.Fatal("GraphError does not unwrap to ErrCycle")
	}
	if got, want := err.Error(), "dataflow: x: cycle without a time-advancing feedback edge: a -> b -> a"; got != want {
		t.Fatalf("GraphError says %q, want %q", got, want)
	}
}

// A batch that retires many times at one location, as a worker catching
// up on another's progress receives, pushes only the location's net
// frontier change: its updates are applied together, and its frontier
// rebuilt once. (Applied one at a time, each retirement of the least time
// rebuilt the frontier from every count and pushed its own change: 2 per
// time here, and time quadratic in the batch, which hung a test whose
// worker fell behind an endless source.) The implications come out as if
// the updates had been applied one by one.
func TestTrackerApplyPushesNetChangePerLocation(t *testing.T) {
	const n = 1000
	tr, add, retire := catchUp(n)
	tr.apply(add)
	tr.propagate()
	tr.takeChanged()
	tr.apply(retire)
	if len(tr.work) != 2 {
		t.Fatalf("retiring %d times at one location pushed %d changes, want its net change: 2", n-1, len(tr.work))
	}
	tr.propagate()
	if f := tr.targets[1][0].implications.Frontier(); !f.Equal(frontier.From(frontier.Time(n - 1))) {
		t.Fatalf("op1.in0 frontier %v, want [%d]", f, n-1)
	}
}

// catchUp returns a tracker of a two-operator line, a batch holding times
// 0 to n-1 at the first operator's output, and one retiring all but the
// last.
func catchUp(n int) (tr *tracker[frontier.Time], add, retire progressBatch[frontier.Time]) {
	g := graph[frontier.Time]{
		internal: [][][]summaryEdge[frontier.Time]{{}, {{{out: 0}}}},
		edges:    [][][]location{{{target(1, 0)}}, {{}}},
		outputs:  []int{1, 1},
	}
	for i := range n {
		ps := pointstamp[frontier.Time]{source(0, 0), frontier.Time(i)}
		add = append(add, frontier.Update[pointstamp[frontier.Time]]{Time: ps, Diff: 1})
		if i < n-1 {
			retire = append(retire, frontier.Update[pointstamp[frontier.Time]]{Time: ps, Diff: -1})
		}
	}
	return newTracker(g), add, retire
}

// BenchmarkTrackerCatchUp applies a batch retiring 10000 times at one
// location, as a worker that fell behind another receives.
func BenchmarkTrackerCatchUp(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		tr, add, retire := catchUp(10000)
		tr.apply(add)
		tr.propagate()
		b.StartTimer()
		tr.apply(retire)
		tr.propagate()
	}
}
