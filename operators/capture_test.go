package operators_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/operators"
)

// checkHistory replays events against a model frontier: every message must
// be at a time the frontier has not passed, and the frontier must end
// empty. It returns the messages as sorted "data@time" lines.
func checkHistory[D any](t testing.TB, name string, events []operators.Event[T, D]) []string {
	t.Helper()
	var counts frontier.MutableAntichain[T]
	counts.Update(0, 1)
	var lines []string
	for _, e := range events {
		switch e.Kind {
		case operators.MessagesEvent:
			if !counts.LessEqual(e.Time) {
				t.Errorf("%s: message at %d after the frontier reached %v", name, e.Time, counts.Frontier())
			}
			for _, d := range e.Data {
				lines = append(lines, fmt.Sprintf("%v@%d", d, e.Time))
			}
		case operators.ProgressEvent:
			counts.UpdateIter(e.Progress)
		}
	}
	if !counts.IsEmpty() {
		t.Errorf("%s: history ends at frontier %v, want empty", name, counts.Frontier())
	}
	slices.Sort(lines)
	return lines
}

// captureNumbers runs a dataflow on `workers` workers that sends 0..n-1,
// record i at time i/10 from worker i%workers, exchanged by value, and
// captures each worker's share into links.
func captureNumbers(t *testing.T, workers, n int, links []*operators.EventLink[T, int]) {
	err := dataflow.Execute(dataflow.Config{Workers: workers, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
		var in *dataflow.InputHandle[T, int]
		dataflow.Dataflow(w, "source", func(s *dataflow.Scope[T]) {
			var nums *dataflow.Stream[T, int]
			in, nums = operators.Input[int](s)
			operators.Capture(operators.Exchange(nums, func(x int) uint64 { return uint64(x) }), links[w.Index()])
		})
		for i := range n {
			in.AdvanceTo(T(i / 10))
			if i%workers == w.Index() {
				in.Send(i)
			}
			if i%25 == 0 {
				w.Step()
			}
		}
		in.Close()
	})
	if err != nil {
		t.Error(err)
	}
}

// replayNumbers replays sources on `workers` workers and captures the
// replayed stream again into out.
func replayNumbers(t *testing.T, workers int, sources []operators.EventSource[T, int], out []*operators.EventLink[T, int]) {
	err := dataflow.Execute(dataflow.Config{Workers: workers, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "replay", func(s *dataflow.Scope[T]) {
			operators.Capture(operators.Replay(s, sources), out[w.Index()])
		})
	})
	if err != nil {
		t.Error(err)
	}
}

func newLinks(n int) []*operators.EventLink[T, int] {
	links := make([]*operators.EventLink[T, int], n)
	for i := range links {
		links[i] = operators.NewEventLink[T, int]()
	}
	return links
}

// Capture on 2 workers, replay on 3 while the capture is still running
// (each reading the links from its own goroutines), capture the replay,
// and compare the two histories.
func TestCaptureReplayRoundTrip(t *testing.T) {
	const n = 400
	captured := newLinks(2)
	replayed := newLinks(3)
	sources := make([]operators.EventSource[T, int], len(captured))
	for i, l := range captured {
		sources[i] = l
	}
	var wg sync.WaitGroup
	wg.Go(func() { captureNumbers(t, 2, n, captured) })
	wg.Go(func() { replayNumbers(t, 3, sources, replayed) })
	wg.Wait()

	var orig, again []string
	for i, l := range captured {
		orig = append(orig, checkHistory(t, fmt.Sprint("capture ", i), l.Events())...)
	}
	for i, l := range replayed {
		again = append(again, checkHistory(t, fmt.Sprint("replay ", i), l.Events())...)
	}
	slices.Sort(orig)
	slices.Sort(again)
	if len(orig) != n || !slices.Equal(orig, again) {
		t.Fatalf("captured %d records, replayed %d; equal: %v", len(orig), len(again), slices.Equal(orig, again))
	}
	// Worker 2 of the replay has no source: it sees the global frontier
	// move but captures no message.
	for _, e := range replayed[2].Events() {
		if e.Kind == operators.MessagesEvent {
			t.Fatalf("replay worker without a source captured %v", e)
		}
	}
}

// pollSource hides EventLink's SetWaker, so Replay must poll it.
type pollSource struct{ l *operators.EventLink[T, int] }

func (p pollSource) Next() (operators.Event[T, int], bool) { return p.l.Next() }

// Replay holds the minimum until the first progress event, follows the
// replayed frontier, and ends with it; a polled source works too.
func TestReplayFollowsRecordedFrontier(t *testing.T) {
	link := operators.NewEventLink[T, int]()
	w := dataflow.NewWorker()
	var probe *dataflow.ProbeHandle[T]
	var got []string
	dataflow.Dataflow(w, "replay", func(s *dataflow.Scope[T]) {
		var out *dataflow.Stream[T, int]
		probe, out = operators.Probe(operators.Replay(s, []operators.EventSource[T, int]{pollSource{link}}))
		sink(t, out, &got)
	})
	for range 5 {
		w.Step()
	}
	if !probe.LessEqual(0) {
		t.Fatalf("before any progress the frontier is %v, want {0}", probe.Frontier())
	}
	link.Push(operators.Messages[T](0, []int{1}))
	link.Push(operators.Progress[T, int]([]frontier.Update[T]{{Time: 0, Diff: -1}, {Time: 4, Diff: 1}}))
	stepUntil(t, w, func() bool { return !probe.LessThan(4) })
	if probe.LessThan(4) || !probe.LessEqual(4) {
		t.Fatalf("frontier %v, want {4}", probe.Frontier())
	}
	link.Push(operators.Messages[T](6, []int{2}))
	link.Push(operators.Progress[T, int]([]frontier.Update[T]{{Time: 4, Diff: -1}}))
	stepUntil(t, w, probe.Done)
	runSingle(t, w)
	if !slices.Equal(got, []string{"1@0", "2@6"}) {
		t.Fatalf("got %v", got)
	}
}

// The round trip under the seeded harness: capture on one cluster, replay
// the finished histories on a cluster of another size, and compare.
func TestCaptureReplayClusterSeeds(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Logf("seed %d", seed)
		from, to := 1+int(seed%3), 1+int((seed/3)%3)
		captured, replayed := newLinks(from), newLinks(to)
		a := dataflowtest.NewCluster(from, seed)
		var inputs []*dataflow.InputHandle[T, int]
		a.Build(func(w *dataflow.Worker) {
			dataflow.Dataflow(w, "capture", func(s *dataflow.Scope[T]) {
				in, nums := operators.Input[int](s)
				inputs = append(inputs, in)
				operators.Capture(operators.Exchange(nums, func(x int) uint64 { return uint64(x) }), captured[w.Index()])
			})
		})
		for i := range 200 {
			in := inputs[i%from]
			in.AdvanceTo(T(i / 30))
			in.Send(i)
			a.Tick()
		}
		for _, in := range inputs {
			in.Close()
		}
		if err := a.Run(200000); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		sources := make([]operators.EventSource[T, int], from)
		for i, l := range captured {
			sources[i] = l
		}
		b := dataflowtest.NewCluster(to, seed)
		b.Build(func(w *dataflow.Worker) {
			dataflow.Dataflow(w, "replay", func(s *dataflow.Scope[T]) {
				operators.Capture(operators.Replay(s, sources), replayed[w.Index()])
			})
		})
		if err := b.Run(200000); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var orig, again []string
		for _, l := range captured {
			orig = append(orig, checkHistory(t, "capture", l.Events())...)
		}
		for _, l := range replayed {
			again = append(again, checkHistory(t, "replay", l.Events())...)
		}
		slices.Sort(orig)
		slices.Sort(again)
		if len(orig) != 200 || !slices.Equal(orig, again) {
			t.Fatalf("seed %d (%d→%d workers): captured %d records, replayed %d", seed, from, to, len(orig), len(again))
		}
	}
}

// Replaying a recording does not change it: Replay gives each event's Data
// to the runtime, where an in-place Map rewrites it, so EventLink hands out
// copies and keeps its own events as they were pushed.
func TestReplayLeavesTheRecordingAlone(t *testing.T) {
	link := operators.NewEventLink[T, int]()
	link.Push(operators.Messages[T](0, []int{1, 2}))
	link.Push(operators.Progress[T, int]([]frontier.Update[T]{{Time: 0, Diff: -1}}))

	w := dataflow.NewWorker()
	var got []string
	dataflow.Dataflow(w, "replay", func(s *dataflow.Scope[T]) {
		r := operators.Replay(s, []operators.EventSource[T, int]{link})
		sink(t, operators.Map(r, func(x int) int { return x * 10 }), &got)
	})
	runSingle(t, w)
	if !slices.Equal(got, []string{"10@0", "20@0"}) {
		t.Fatalf("downstream saw %v, want [10@0 20@0]", got)
	}
	if d := link.Events()[0].Data; !slices.Equal(d, []int{1, 2}) {
		t.Fatalf("recorded event changed by replaying it: %v", d)
	}
}

// A worker replaying two live sources holds the frontier at the least of
// their frontiers: one source moving on does not release the times the
// other still holds. (Counting one, not one per source, at the start let
// the frontier jump to the first source's.)
func TestReplayTwoLiveSourcesOnOneWorker(t *testing.T) {
	a, b := operators.NewEventLink[T, int](), operators.NewEventLink[T, int]()
	w := dataflow.NewWorker()
	var probe *dataflow.ProbeHandle[T]
	var got []string
	dataflow.Dataflow(w, "replay", func(s *dataflow.Scope[T]) {
		var out *dataflow.Stream[T, int]
		probe, out = operators.Probe(operators.Replay(s, []operators.EventSource[T, int]{pollSource{a}, pollSource{b}}))
		sink(t, out, &got)
	})
	a.Push(operators.Progress[T, int]([]frontier.Update[T]{{Time: 0, Diff: -1}, {Time: 5, Diff: 1}}))
	for range 5 {
		w.Step()
	}
	if !probe.LessEqual(0) {
		t.Fatalf("frontier %v with the second source still at 0, want {0}", probe.Frontier())
	}
	b.Push(operators.Messages[T](1, []int{7}))
	b.Push(operators.Progress[T, int]([]frontier.Update[T]{{Time: 0, Diff: -1}}))
	a.Push(operators.Progress[T, int]([]frontier.Update[T]{{Time: 5, Diff: -1}}))
	stepUntil(t, w, probe.Done)
	runSingle(t, w)
	if !slices.Equal(got, []string{"7@1"}) {
		t.Fatalf("got %v, want [7@1]", got)
	}
}

// A history whose message comes after its progress has passed the
// message's time is no history a capture writes: Replay panics rather
// than drop the record.
func TestReplayRefusesMessageBehindProgress(t *testing.T) {
	link := operators.NewEventLink[T, int]()
	w := dataflow.NewWorker()
	dataflow.Dataflow(w, "replay", func(s *dataflow.Scope[T]) {
		var got []string
		sink(t, operators.Replay(s, []operators.EventSource[T, int]{pollSource{link}}), &got)
	})
	link.Push(operators.Progress[T, int]([]frontier.Update[T]{{Time: 0, Diff: -1}, {Time: 5, Diff: 1}}))
	for range 3 {
		w.Step()
	}
	link.Push(operators.Messages[T](2, []int{1}))
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "replayed message at a time its progress has passed") {
			t.Fatalf("recovered %v, want the replay's panic", r)
		}
	}()
	for range 3 {
		w.Step()
	}
	t.Fatal("a message behind the replayed progress was taken")
}

// Events returns the link's events as a slice of the caller's: writing to
// it, or appending to it, leaves what the link returns next alone.
func TestEventLinkEventsIsACopy(t *testing.T) {
	link := operators.NewEventLink[T, int]()
	link.Push(operators.Messages[T](0, []int{1}))
	link.Push(operators.Messages[T](1, []int{2}))
	got := link.Events()
	got[0] = operators.Messages[T](7, []int{7})
	_ = append(got[:1], operators.Messages[T](8, []int{8}))
	again := link.Events()
	if len(again) != 2 || again[0].Time != 0 || again[1].Time != 1 {
		t.Fatalf("the link's events changed through Events' result: %+v", again)
	}
}
