package dataflow_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
)

// The model-based test of progress tracking: random graphs (with feedback
// edges, some read through disconnected inputs, and exchange between 1-4
// workers) driven by operators that randomly send, hold, retain, downgrade
// and drop, with every cross-worker envelope delivered in a seeded random
// order. After every step or delivery, every input frontier on every worker
// is compared with a recomputation from scratch over the capabilities and
// messages that exist: it must never be ahead, and once all progress has
// been received it must be equal.

var propSeed = flag.Uint64("dataflow.seed", 0, "run the progress property test with this seed only")

const propMaxTime = 12

type port struct{ op, port int }

// propSpec is a random dataflow graph, the same on every worker.
type propSpec struct {
	ops []opSpec
	// loops[k] is the stream that feeds feedback operator k (ops[k]).
	loops []port
}

type opSpec struct {
	feedback bool
	delta    T           // feedback: the summary
	inputs   []inputSpec // actors only
	outputs  int
	// disconnected[i][o]: input i is not connected to output o.
	disconnected [][]bool
}

type inputSpec struct {
	from     port
	exchange bool
}

func genSpec(r *rand.Rand) propSpec {
	var s propSpec
	loops := r.IntN(3)
	var streams []port
	for k := range loops {
		s.ops = append(s.ops, opSpec{feedback: true, delta: T(1 + r.IntN(2)), outputs: 1})
		streams = append(streams, port{k, 0})
	}
	actors := 2 + r.IntN(4)
	for a := range actors {
		op := opSpec{outputs: 1 + r.IntN(2)}
		nIn := 0
		if a > 0 {
			nIn = 1 + r.IntN(2)
		}
		for range nIn {
			op.inputs = append(op.inputs, inputSpec{from: streams[r.IntN(len(streams))], exchange: r.IntN(2) == 0})
		}
		op.disconnected = make([][]bool, nIn)
		for i := range nIn {
			op.disconnected[i] = make([]bool, op.outputs)
			// A feedback stream read through a disconnected input, as the
			// source operator's completed-fetches edge is.
			allOff := op.inputs[i].from.op < loops && r.IntN(2) == 0
			for o := range op.outputs {
				op.disconnected[i][o] = allOff || r.IntN(4) == 0
			}
		}
		idx := len(s.ops)
		s.ops = append(s.ops, op)
		for o := range op.outputs {
			streams = append(streams, port{idx, o})
		}
	}
	for range loops {
		// Any actor's output may feed a loop.
		var outs []port
		for _, p := range streams {
			if p.op >= loops {
				outs = append(outs, p)
			}
		}
		s.loops = append(s.loops, outs[r.IntN(len(outs))])
	}
	return s
}

// actor is one worker's instance of a random operator.
type actor struct {
	ins       []*dataflow.InPort[T, uint64]
	outs      []*dataflow.OutPort[T, uint64]
	spec      opSpec
	caps      [][]*dataflow.Capability[T]
	budget    int
	finishing *bool
	r         *rand.Rand
}

func (a *actor) connected(i int) []int {
	var outs []int
	for o := range a.outs {
		if !a.spec.disconnected[i][o] {
			outs = append(outs, o)
		}
	}
	return outs
}

func (a *actor) run() {
	if *a.finishing {
		for o := range a.caps {
			for _, c := range a.caps[o] {
				c.Drop()
			}
			a.caps[o] = nil
		}
		for _, in := range a.ins {
			in.ForEach(func(dataflow.CapabilityRef[T], []uint64) {})
		}
		return
	}
	r := a.r
	for i, in := range a.ins {
		if r.IntN(4) == 0 {
			continue // hold: leave the messages queued
		}
		outs := a.connected(i)
		in.ForEach(func(ref dataflow.CapabilityRef[T], data []uint64) {
			if len(outs) == 0 || ref.Time() >= propMaxTime {
				return
			}
			o := outs[r.IntN(len(outs))]
			switch r.IntN(3) {
			case 0:
				if a.budget > 0 {
					a.budget--
					a.outs[o].Session(ref).GiveSlice(data[:min(len(data), 3)])
				}
			case 1:
				if len(a.caps[o]) < 3 {
					a.caps[o] = append(a.caps[o], ref.DelayedFor(o, ref.Time()+T(r.IntN(3))))
				}
			}
		})
	}
	for o := range a.caps {
		for j := 0; j < len(a.caps[o]); j++ {
			c := a.caps[o][j]
			switch r.IntN(6) {
			case 0:
				if a.budget > 0 && c.Time() < propMaxTime {
					a.budget--
					s := a.outs[o].Session(c)
					for range 1 + r.IntN(3) {
						s.Give(r.Uint64())
					}
				}
			case 1:
				if c.Time() < propMaxTime {
					c.Downgrade(c.Time() + 1 + T(r.IntN(2)))
				}
			case 2:
				if len(a.caps[o]) < 3 {
					a.caps[o] = append(a.caps[o], c.Delayed(c.Time()+T(r.IntN(3))))
				}
			case 3:
				c.Drop()
				a.caps[o] = append(a.caps[o][:j], a.caps[o][j+1:]...)
				j--
			}
		}
	}
}

type propWorker struct {
	scope      *dataflow.Scope[T]
	actors     map[int]*actor
	activators map[int]*dataflow.Activator
}

func buildProp(w *dataflow.Worker, spec propSpec, r *rand.Rand, finishing *bool) *propWorker {
	pw := &propWorker{actors: map[int]*actor{}, activators: map[int]*dataflow.Activator{}}
	dataflow.Dataflow(w, "prop", func(s *dataflow.Scope[T]) {
		pw.scope = s
		streams := map[port]*dataflow.Stream[T, uint64]{}
		var loops []*dataflow.LoopHandle[T, uint64]
		for i, op := range spec.ops {
			if op.feedback {
				l, st := dataflow.Feedback[uint64](s, dataflow.AddTime(op.delta))
				loops = append(loops, l)
				streams[port{i, 0}] = st
				continue
			}
			b := dataflow.NewBuilder(s, fmt.Sprintf("actor%d", i))
			a := &actor{spec: op, budget: 20, finishing: finishing, r: r}
			for _, in := range op.inputs {
				pact := dataflow.Pipeline[uint64]()
				if in.exchange {
					pact = dataflow.Exchange(func(d uint64) uint64 { return d })
				}
				a.ins = append(a.ins, dataflow.AddInput(b, streams[in.from], pact))
			}
			for o := range op.outputs {
				out, st := dataflow.AddOutput[uint64](b)
				a.outs = append(a.outs, out)
				streams[port{i, o}] = st
			}
			for in := range op.inputs {
				for o := range op.outputs {
					if op.disconnected[in][o] {
						b.SetConnection(in, o, false)
					}
				}
			}
			pw.actors[i] = a
			pw.activators[i] = b.Activator()
			b.Build(func(caps []*dataflow.Capability[T]) func() {
				for _, c := range caps {
					a.caps = append(a.caps, []*dataflow.Capability[T]{c})
				}
				return a.run
			})
		}
		for k, from := range spec.loops {
			loops[k].Connect(streams[from])
		}
	})
	return pw
}

func inputsOf(spec propSpec) []port {
	var ps []port
	for i, op := range spec.ops {
		n := len(op.inputs)
		if op.feedback {
			n = 1
		}
		for k := range n {
			ps = append(ps, port{i, k})
		}
	}
	return ps
}

func runProp(t *testing.T, seed uint64, actions int) {
	r := rand.New(rand.NewPCG(seed, 1))
	spec := genSpec(r)
	workers := 1 + r.IntN(4)
	c := dataflowtest.NewCluster(workers, seed)
	finishing := false
	pws := make([]*propWorker, workers)
	c.Build(func(w *dataflow.Worker) { pws[w.Index()] = buildProp(w, spec, r, &finishing) })
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d (%d workers, spec %+v): %s", seed, workers, spec, fmt.Sprintf(format, args...))
	}
	check := func(exact bool, when string) {
		t.Helper()
		var pts []dataflow.PointstampForTest[T]
		for _, pw := range pws {
			pts = append(pts, dataflow.PointstampsForTest(pw.scope)...)
		}
		for _, e := range c.Fabric.Undelivered() {
			if p, ok := dataflow.EnvelopePointstampForTest(pws[0].scope, e); ok {
				pts = append(pts, p)
			}
		}
		want := truth(spec, pts)
		for wi, pw := range pws {
			for _, p := range inputsOf(spec) {
				got := dataflow.FrontierForTest(pw.scope, p.op, p.port)
				tr := want[p]
				for _, e := range tr.Elements() {
					if !got.LessEqual(e) {
						fail("%s: worker %d input %v frontier %v is ahead of %v", when, wi, p, got, tr)
					}
				}
				if exact && !got.Equal(tr) {
					fail("%s: worker %d input %v frontier %v, recomputed %v", when, wi, p, got, tr)
				}
			}
		}
	}
	c.StepAll()
	check(false, "start")
	for i := range actions {
		switch k := r.IntN(10); {
		case k < 4:
			c.Fabric.DeliverOne(r)
		case k < 9:
			wi := r.IntN(workers)
			pw := pws[wi]
			if r.IntN(2) == 0 {
				for op, a := range pw.activators {
					if r.IntN(3) == 0 {
						_ = op
						a.Activate()
					}
				}
			}
			c.Workers[wi].Step()
		default:
			for c.Fabric.OrderedInFlight() > 0 {
				c.Fabric.DeliverAll(r)
				for _, w := range c.Workers {
					w.ReceiveForTest()
				}
			}
			check(true, fmt.Sprintf("action %d (settled)", i))
			continue
		}
		check(false, fmt.Sprintf("action %d", i))
	}
	finishing = true
	for _, pw := range pws {
		for _, a := range pw.activators {
			a.Activate()
		}
	}
	for ticks := 0; c.Running() || c.Fabric.InFlight() > 0; ticks++ {
		if ticks == 100_000 {
			fail("not finished after %d ticks", ticks)
		}
		c.Tick()
		check(false, "finishing")
	}
	for _, pw := range pws {
		for _, p := range inputsOf(spec) {
			if f := dataflow.FrontierForTest(pw.scope, p.op, p.port); !f.IsEmpty() {
				fail("finished with frontier %v at %v", f, p)
			}
		}
	}
	if err := c.Close(); err != nil {
		fail("close: %v", err)
	}
}

func TestProgressProperty(t *testing.T) {
	if *propSeed != 0 {
		runProp(t, *propSeed, 400)
		return
	}
	seeds := uint64(300)
	if testing.Short() {
		seeds = 50
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		runProp(t, seed, 300)
	}
}
