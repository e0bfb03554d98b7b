package operators_test

import (
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/operators"
)

// ticker adds an endless source: each time it runs it sends one record at
// its next time and schedules itself again, until its shutdown button is
// pressed on every worker. Pressed only locally, it keeps its capability
// and sends nothing.
func ticker(s *dataflow.Scope[T]) (*dataflow.Stream[T, uint64], *dataflow.ShutdownToken) {
	b := dataflow.NewBuilder(s, "ticker")
	out, stream := dataflow.AddOutput[uint64](b)
	button, token := b.ShutdownButton()
	act := b.Activator()
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		c := caps[0]
		return func() {
			switch {
			case c == nil:
			case button.AllPressed():
				c.Drop()
				c = nil
			case button.LocalPressed():
			default:
				out.Session(c).Give(uint64(c.Time())*10 + uint64(s.Index()))
				c.Downgrade(c.Time() + 1)
				act.Activate()
			}
		}
	})
	return stream, token
}

// buildEndless builds ticker + input → Map → ConsolidateExchange → Capture
// and returns the input, the token and a probe on the consolidated stream.
func buildEndless(w *dataflow.Worker, link *operators.EventLink[T, int]) (*dataflow.InputHandle[T, uint64], *dataflow.ShutdownToken, *dataflow.ProbeHandle[T]) {
	var in *dataflow.InputHandle[T, uint64]
	var token *dataflow.ShutdownToken
	var probe *dataflow.ProbeHandle[T]
	dataflow.Dataflow(w, "endless", func(s *dataflow.Scope[T]) {
		var ticks, inputs *dataflow.Stream[T, uint64]
		ticks, token = ticker(s)
		in, inputs = operators.Input[uint64](s)
		ups := operators.Map(operators.Concat(ticks, inputs), func(x uint64) operators.Update[uint64] {
			return operators.Update[uint64]{Data: x % 7, Diff: 1}
		})
		var counted *dataflow.Stream[T, operators.Update[uint64]]
		probe, counted = operators.Probe(operators.ConsolidateExchange(ups, func(x uint64) uint64 { return x }))
		operators.Capture(operators.Map(counted, func(u operators.Update[uint64]) int { return int(u.Diff) }), link)
	})
	return in, token, probe
}

// Dropping the input and the tokens mid-stream, on every worker, drains
// every frontier to empty: Execute returns without a leak or a hang, and
// each captured history ends at the empty frontier.
func TestDropTokensMidStreamExecute(t *testing.T) {
	const workers = 2
	links := newLinks(workers)
	err := dataflow.Execute(dataflow.Config{Workers: workers, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
		in, token, probe := buildEndless(w, links[w.Index()])
		in.Send(1000)
		in.AdvanceTo(3)
		in.Send(1003)
		in.Close()
		for probe.LessThan(10) {
			w.Step()
		}
		token.Drop()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range links {
		if len(checkHistory(t, "worker", l.Events())) == 0 {
			t.Errorf("worker %d captured nothing", i)
		}
	}
}

// Under the harness: one worker presses first and the frontier must not
// pass what the other worker's ticker can still send; once both press, it
// drains to empty.
func TestDropTokensMidStreamCluster(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Logf("seed %d", seed)
		c := dataflowtest.NewCluster(2, seed)
		links := newLinks(2)
		var ins []*dataflow.InputHandle[T, uint64]
		var tokens []*dataflow.ShutdownToken
		var probes []*dataflow.ProbeHandle[T]
		c.Build(func(w *dataflow.Worker) {
			in, tok, p := buildEndless(w, links[w.Index()])
			ins, tokens, probes = append(ins, in), append(tokens, tok), append(probes, p)
		})
		for _, in := range ins {
			in.Send(7)
			in.Close()
		}
		if err := c.RunUntil(func() bool { return !probes[0].LessThan(5) }, 100000); err != nil {
			t.Fatal(err)
		}
		tokens[0].Drop()
		// Only worker 0 pressed: worker 1's ticker keeps going, and the
		// frontier keeps being held by it, never reaching empty.
		for range 2000 {
			c.Tick()
		}
		if probes[0].Done() || probes[1].Done() {
			t.Fatalf("seed %d: frontier drained on a local press", seed)
		}
		tokens[1].Drop()
		if err := c.Run(200000); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, l := range links {
			checkHistory(t, "seeded", l.Events())
		}
	}
}
