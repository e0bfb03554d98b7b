package operators_test

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/operators"
)

// A single worker: Map and Filter, with Inspect printing what passes, and a
// probe telling the driver when each time is complete.
func ExampleMap() {
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[T, int]
	var probe *dataflow.ProbeHandle[T]
	dataflow.Dataflow(w, "squares", func(s *dataflow.Scope[T]) {
		var nums *dataflow.Stream[T, int]
		input, nums = operators.Input[int](s)
		squares := operators.Map(nums, func(x int) int { return x * x })
		odd := operators.Filter(squares, func(x int) bool { return x%2 == 1 })
		probe, _ = operators.Probe(operators.Inspect(odd, func(t T, x int) { fmt.Printf("%d at time %d\n", x, t) }))
	})
	for round := range T(3) {
		input.AdvanceTo(round)
		input.SendBatch([]int{int(2 * round), int(2*round + 1)})
	}
	input.Close()
	for w.Step() {
	}
	fmt.Println("done:", probe.Done(), w.Close())
	// Output:
	// 1 at time 0
	// 9 at time 1
	// 25 at time 2
	// done: true <nil>
}

// InspectBatch sees whole batches with their time.
func ExampleInspectBatch() {
	w := dataflow.NewWorker()
	dataflow.Dataflow(w, "batches", func(s *dataflow.Scope[T]) {
		input, words := operators.Input[string](s)
		operators.InspectBatch(words, func(t T, batch []string) { fmt.Println(t, batch) })
		input.SendBatch([]string{"a", "b"})
		input.AdvanceTo(1)
		input.Send("c")
		input.Close()
	})
	for w.Step() {
	}
	// Output:
	// 0 [a b]
	// 1 [c]
}

// A probe tells the driver how far a stream has got: LessThan(t) holds
// while some time before t may still appear.
func ExampleProbe() {
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[T, string]
	var probe *dataflow.ProbeHandle[T]
	dataflow.Dataflow(w, "probe", func(s *dataflow.Scope[T]) {
		var words *dataflow.Stream[T, string]
		input, words = operators.Input[string](s)
		probe, _ = operators.Probe(words)
	})
	input.Send("hello")
	input.AdvanceTo(5)
	for probe.LessThan(5) {
		w.Step()
	}
	fmt.Println("frontier:", probe.Frontier(), "less than 5:", probe.LessThan(5), "less than 6:", probe.LessThan(6))
	input.Close()
	for w.Step() {
	}
	fmt.Println("done:", probe.Done())
	// Output:
	// frontier: [5] less than 5: false less than 6: true
	// done: true
}

// Capture records a stream's messages and progress; Replay plays them
// into another dataflow.
func ExampleCapture() {
	link := operators.NewEventLink[T, string]()
	w := dataflow.NewWorker()
	var input *dataflow.InputHandle[T, string]
	var probe *dataflow.ProbeHandle[T]
	dataflow.Dataflow(w, "capture", func(s *dataflow.Scope[T]) {
		var words *dataflow.Stream[T, string]
		input, words = operators.Input[string](s)
		probe, words = operators.Probe(words)
		operators.Capture(words, link)
	})
	input.Send("a")
	input.AdvanceTo(2)
	for probe.LessThan(2) {
		w.Step()
	}
	input.Send("b")
	input.Close()
	for w.Step() {
	}
	for _, e := range link.Events() {
		switch e.Kind {
		case operators.MessagesEvent:
			fmt.Println("messages", e.Time, e.Data)
		case operators.ProgressEvent:
			fmt.Println("progress", e.Progress)
		}
	}
	dataflow.Dataflow(w, "replay", func(s *dataflow.Scope[T]) {
		replayed := operators.Replay(s, []operators.EventSource[T, string]{link})
		operators.Inspect(replayed, func(t T, d string) { fmt.Println("replayed", d, "at", t) })
	})
	for w.Step() {
	}
	// Output:
	// messages 0 [a]
	// progress [{0 -1} {2 1}]
	// messages 2 [b]
	// progress [{2 -1}]
	// replayed a at 0
	// replayed b at 2
}

// Word count on two workers: lines are split into words, each word is sent
// to the worker its hash names, counted per time by Consolidate, and
// captured.
func Example_wordCount() {
	const workers = 2
	links := []*operators.EventLink[T, operators.Update[string]]{
		operators.NewEventLink[T, operators.Update[string]](),
		operators.NewEventLink[T, operators.Update[string]](),
	}
	text := [][]string{{"the cat", "the dog"}, {"a cat and a hat"}}
	err := dataflow.Execute(dataflow.Config{Workers: workers}, func(w *dataflow.Worker) {
		var input *dataflow.InputHandle[T, string]
		dataflow.Dataflow(w, "wordcount", func(s *dataflow.Scope[T]) {
			var lines *dataflow.Stream[T, string]
			input, lines = operators.Input[string](s)
			words := operators.FlatMap(lines, strings.FieldsSeq)
			ones := operators.Map(words, func(w string) operators.Update[string] {
				return operators.Update[string]{Data: w, Diff: 1}
			})
			counts := operators.ConsolidateExchange(ones, func(w string) uint64 { return uint64(len(w)) })
			operators.Capture(counts, links[w.Index()])
		})
		if w.Index() == 0 { // one worker reads the text
			for t, lines := range text {
				input.AdvanceTo(T(t))
				for _, l := range lines {
					input.Send(l)
				}
			}
		}
		input.Close()
	})
	var out []string
	for _, l := range links {
		for _, e := range l.Events() {
			for _, u := range e.Data {
				out = append(out, fmt.Sprintf("time %d: %s %d", e.Time, u.Data, u.Diff))
			}
		}
	}
	slices.Sort(out)
	fmt.Println(strings.Join(out, "\n"))
	fmt.Println("error:", err)
	// Output:
	// time 0: cat 1
	// time 0: dog 1
	// time 0: the 2
	// time 1: a 2
	// time 1: and 1
	// time 1: cat 1
	// time 1: hat 1
	// error: <nil>
}
