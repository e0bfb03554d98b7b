package operators_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/operators"
)

// fnv hashes a word (FNV-1a) without allocating.
func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// corpus returns rounds of lines: round r is sent at time r.
func corpus(seed uint64, rounds, lines int) [][]string {
	rng := rand.New(rand.NewPCG(seed, 1))
	vocab := []string{"apple", "banana", "cherry", "date", "elder", "fig", "grape", "kiwi", "lime"}
	out := make([][]string, rounds)
	for r := range out {
		for range lines {
			n := 1 + rng.IntN(6)
			words := make([]string, n)
			for i := range words {
				words[i] = vocab[rng.IntN(len(vocab))]
			}
			out[r] = append(out[r], strings.Join(words, " "))
		}
	}
	return out
}

// expectedCounts counts words per round directly, in the format of
// updatesByTime.
func expectedCounts(t *testing.T, rounds [][]string) string {
	link := operators.NewEventLink[T, operators.Update[string]]()
	for r, lines := range rounds {
		counts := map[string]int64{}
		var order []string
		for _, l := range lines {
			for _, w := range strings.Fields(l) {
				if counts[w] == 0 {
					order = append(order, w)
				}
				counts[w]++
			}
		}
		var ups []operators.Update[string]
		for _, w := range order {
			ups = append(ups, operators.Update[string]{Data: w, Diff: counts[w]})
		}
		link.Push(operators.Messages(T(r), ups))
	}
	return updatesByTime(t, []*operators.EventLink[T, operators.Update[string]]{link})
}

// buildWordCount builds the word count dataflow on w, capturing this
// worker's counts into link, and checks that every word is counted on the
// worker its hash names. It returns the input.
func buildWordCount(t *testing.T, w *dataflow.Worker, link *operators.EventLink[T, operators.Update[string]]) *dataflow.InputHandle[T, string] {
	var input *dataflow.InputHandle[T, string]
	dataflow.Dataflow(w, "wordcount", func(s *dataflow.Scope[T]) {
		var lines *dataflow.Stream[T, string]
		input, lines = operators.Input[string](s)
		words := operators.FlatMap(lines, strings.FieldsSeq)
		ones := operators.Map(words, func(w string) operators.Update[string] { return operators.Update[string]{Data: w, Diff: 1} })
		routed := operators.Exchange(ones, func(u operators.Update[string]) uint64 { return fnv(u.Data) })
		routed = operators.Inspect(routed, func(_ T, u operators.Update[string]) {
			if int(fnv(u.Data)%uint64(s.Peers())) != s.Index() {
				t.Errorf("word %q on worker %d of %d", u.Data, s.Index(), s.Peers())
			}
		})
		operators.Capture(operators.Consolidate(routed), link)
	})
	return input
}

// feed sends this worker's share of the rounds (line i of a round goes to
// worker i % peers) and closes the input.
func feed(w *dataflow.Worker, input *dataflow.InputHandle[T, string], rounds [][]string) {
	for r, lines := range rounds {
		input.AdvanceTo(T(r))
		for i, l := range lines {
			if i%w.Peers() == w.Index() {
				input.Send(l)
			}
		}
		w.Step()
	}
	input.Close()
}

func TestWordCountExecute(t *testing.T) {
	rounds := corpus(7, 6, 40)
	want := expectedCounts(t, rounds)
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			links := make([]*operators.EventLink[T, operators.Update[string]], workers)
			for i := range links {
				links[i] = operators.NewEventLink[T, operators.Update[string]]()
			}
			err := dataflow.Execute(dataflow.Config{Workers: workers, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
				input := buildWordCount(t, w, links[w.Index()])
				feed(w, input, rounds)
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := updatesByTime(t, links); got != want {
				t.Fatalf("%d workers: got\n%s\nwant\n%s", workers, got, want)
			}
			for i, l := range links {
				if p := progressTotal(l.Events()); len(p) != 1 || p[0].Time != 0 || p[0].Diff != -1 {
					t.Fatalf("worker %d: progress sums to %v, want [{0 -1}]", i, p)
				}
			}
		})
	}
}

func TestWordCountClusterSeeds(t *testing.T) {
	rounds := corpus(11, 5, 30)
	want := expectedCounts(t, rounds)
	for seed := uint64(1); seed <= 12; seed++ {
		t.Logf("seed %d", seed)
		workers := []int{1, 2, 4}[seed%3]
		c := dataflowtest.NewCluster(workers, seed)
		links := make([]*operators.EventLink[T, operators.Update[string]], workers)
		inputs := make([]*dataflow.InputHandle[T, string], workers)
		c.Build(func(w *dataflow.Worker) {
			links[w.Index()] = operators.NewEventLink[T, operators.Update[string]]()
			inputs[w.Index()] = buildWordCount(t, w, links[w.Index()])
		})
		// Feed round by round, letting the cluster make random progress
		// between rounds.
		for r, lines := range rounds {
			for wi, in := range inputs {
				in.AdvanceTo(T(r))
				for i, l := range lines {
					if i%workers == wi {
						in.Send(l)
					}
				}
			}
			for range 20 {
				c.Tick()
			}
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
		if got := updatesByTime(t, links); got != want {
			t.Fatalf("seed %d, %d workers: got\n%s\nwant\n%s", seed, workers, got, want)
		}
	}
}
