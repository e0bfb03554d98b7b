package dataflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/shardflow/shardflow/frontier"
)

// ErrNotBuilt is matched by a *GraphError for an operator whose Builder was
// never Built.
var ErrNotBuilt = errors.New("dataflow: operator never built")

// Scope is one dataflow under construction and, once built, running: its
// operators, their progress tracker and the progress it has yet to report.
// All workers must build the same dataflows, with the same operators in the
// same order, so that operator indices agree across workers.
type Scope[T frontier.Timestamp[T]] struct {
	w     *Worker
	name  string
	index int

	ops []*opCore[T]
	// channels[i] receives the data envelopes of exchange channel i.
	channels []func(payload any)
	// channelTargets[i] is the input port exchange channel i feeds.
	channelTargets []location
	loops          []loopCheck
	// deferred holds sends made while building, run once the graph is
	// complete.
	deferred []func()

	tracker *tracker[T] // nil until the dataflow is finalized
	// shape hashes the graph (its operators' ports and the edges between
	// them), set when the dataflow is finalized: every worker must build
	// the same, and what a worker receives from one whose shape differs
	// would name operators and ports it does not have, or other ones.
	shape uint64
	// pending accumulates this worker's progress since the last flush:
	// consumed and produced messages and capability changes. It is
	// reported as one atomic batch.
	// pending is fed from counted, the locations whose counts changed since
	// the last flush, by collect.
	pending frontier.ChangeBatch[pointstamp[T]]
	counted []*portCounts[T]
	dirty   bool // the tracker has changes to propagate
	retired bool
	// shared lists the keys this worker asked for with Shared.
	shared []string
	// queued counts this dataflow's operators waiting in the worker's
	// activation queue.
	queued int
}

type loopCheck struct {
	name      string
	connected func() bool
	// advances reports whether the summary strictly advances the minimum
	// time (a summary that does not would let the loop stall itself).
	advances func() bool
}

// Dataflow builds a dataflow on w by calling build with a fresh scope, then
// checks its graph and starts tracking its progress. It panics with a
// *GraphError if the graph has a cycle that does not advance time or an
// unconnected feedback edge (see TryDataflow). build may step w (to wait on
// an earlier dataflow's probe, say): the dataflow's operators run only once
// it is built, and what other workers send it meanwhile is kept until then,
// like what they send before.
func Dataflow[T frontier.Timestamp[T]](w *Worker, name string, build func(*Scope[T])) {
	if err := TryDataflow(w, name, build); err != nil {
		panic(err)
	}
}

// TryDataflow is Dataflow returning the *GraphError instead of panicking. A
// refused dataflow is discarded with its operators and capabilities, and so
// is one whose build function panics, before the panic goes on.
func TryDataflow[T frontier.Timestamp[T]](w *Worker, name string, build func(*Scope[T])) error {
	s := &Scope[T]{w: w, name: name, index: len(w.byIndex)}
	w.byIndex = append(w.byIndex, nil)
	w.building = append(w.building, s.index)
	func() {
		returned := false
		defer func() {
			w.built(s.index)
			if !returned {
				// build panicked (or called runtime.Goexit): the dataflow is
				// discarded as a refused one is, and the panic goes on to
				// the caller as it was. Like a refusal, this is local: peers
				// that built the dataflow are not told, and their copies
				// wait for this worker's initial capabilities. Under Execute
				// a panic that reaches fn's caller aborts every worker.
				delete(w.early, s.index)
				s.discard()
			}
		}()
		build(s)
		returned = true
	}()
	early := w.early[s.index]
	delete(w.early, s.index) // a refused dataflow drops what came early
	if err := s.finalize(); err != nil {
		s.discard()
		return err
	}
	w.byIndex[s.index] = s
	w.dataflows = append(w.dataflows, s)
	for _, e := range early {
		s.receive(e)
	}
	return nil
}

// Name returns the dataflow's name.
func (s *Scope[T]) Name() string { return s.name }

// Worker returns the worker the dataflow runs on.
func (s *Scope[T]) Worker() *Worker { return s.w }

// Index returns the worker's index (a shorthand for Worker().Index()).
func (s *Scope[T]) Index() int { return s.w.index }

// Peers returns the number of workers.
func (s *Scope[T]) Peers() int { return s.w.peers }

func (s *Scope[T]) dataflowName() string  { return s.name }
func (s *Scope[T]) dataflowIndex() int    { return s.index }
func (s *Scope[T]) dataflowShape() uint64 { return s.shape }

func (s *Scope[T]) finalize() error {
	for _, l := range s.loops {
		if !l.connected() {
			return &GraphError{Dataflow: s.name, Reason: ErrUnconnectedLoop, Path: []string{l.name}}
		}
		if !l.advances() {
			return &GraphError{Dataflow: s.name, Reason: ErrCycle, Path: []string{l.name}}
		}
	}
	g := graph[T]{
		internal: make([][][]summaryEdge[T], len(s.ops)),
		edges:    make([][][]location, len(s.ops)),
		outputs:  make([]int, len(s.ops)),
	}
	for i, op := range s.ops {
		if op.logic == nil {
			return &GraphError{Dataflow: s.name, Reason: ErrNotBuilt, Path: []string{op.name}}
		}
		g.internal[i] = op.conn
		g.outputs[i] = len(op.outputs)
		g.edges[i] = make([][]location, len(op.outputs))
		for o, out := range op.outputs {
			g.edges[i][o] = out.targets
		}
	}
	if path := findCycle(g); path != nil {
		names := make([]string, len(path))
		for i, op := range path {
			names[i] = s.ops[op].name
		}
		return &GraphError{Dataflow: s.name, Reason: ErrCycle, Path: names}
	}
	s.tracker = newTracker(g)
	s.shape = graphShape(g)
	var zero T
	for i, op := range s.ops {
		for o := range op.outputs {
			s.tracker.update(source(i, o), zero, int64(s.w.peers))
		}
	}
	s.tracker.propagate()
	s.tracker.takeChanged()
	for _, f := range s.deferred {
		f()
	}
	s.deferred = nil
	return nil
}

// graphShape hashes g's operators, their ports and the edges between them.
func graphShape[T frontier.Timestamp[T]](g graph[T]) uint64 {
	h := fnv.New64a()
	var buf []byte
	put := func(v int) { buf = binary.AppendUvarint(buf, uint64(v)) }
	put(len(g.outputs))
	for op := range g.outputs {
		put(len(g.internal[op]))
		put(g.outputs[op])
		for _, targets := range g.edges[op] {
			put(len(targets))
			for _, l := range targets {
				put(int(l.op))
				put(int(l.port))
			}
		}
	}
	h.Write(buf)
	return h.Sum64()
}

// findCycle returns the operators along a cycle of the graph that passes
// through no time-advancing summary, or nil. Its nodes are input ports:
// input (a, i) leads to input (b, j) when i is connected to some output of a
// with the identity summary and that output feeds (b, j).
func findCycle[T frontier.Timestamp[T]](g graph[T]) []int {
	const (
		white = iota
		grey
		black
	)
	color := map[location]int{}
	var stack, found []location
	var visit func(l location) bool
	visit = func(l location) bool {
		color[l] = grey
		stack = append(stack, l)
		for _, e := range g.internal[l.op][l.port] {
			if e.s != nil {
				continue
			}
			for _, next := range g.edges[l.op][e.out] {
				switch color[next] {
				case grey:
					for i, o := range stack {
						if o == next {
							found = append(append([]location(nil), stack[i:]...), next)
							break
						}
					}
					return true
				case white:
					if visit(next) {
						return true
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[l] = black
		return false
	}
	for op := range g.internal {
		for port := range g.internal[op] {
			l := target(op, port)
			if color[l] == white && visit(l) {
				ops := make([]int, len(found))
				for i, f := range found {
					ops[i] = int(f.op)
				}
				return ops
			}
		}
	}
	return nil
}

// markDead marks the scope's operators dead: they run no more, and
// activating them from another goroutine does nothing.
func (s *Scope[T]) markDead() {
	s.w.sync.mu.Lock()
	defer s.w.sync.mu.Unlock()
	for _, op := range s.ops {
		op.dead, op.syncDead = true, true
	}
}

// discard removes what a refused dataflow left on the worker.
func (s *Scope[T]) discard() {
	s.markDead()
	for i := 0; i < len(s.w.live); {
		if s.w.live[i].dataflowIndex() == s.index {
			s.w.live[i].setLive(-1)
			s.w.removeLive(i)
			continue
		}
		i++
	}
	s.releaseShared()
	s.retired = true
}

func (s *Scope[T]) receive(e Envelope) {
	if s.retired {
		return
	}
	if e.shape != s.shape {
		panic(fmt.Sprintf("dataflow %q: worker %d built it with another graph than worker %d did "+
			"(operators, ports or edges differ): every worker must build the same dataflows, in the same order",
			s.name, e.From, s.w.index))
	}
	switch e.Kind {
	case ProgressEnvelope:
		s.tracker.apply(e.payload.(*progressMsg[T]).batch)
		s.dirty = true
	case DataEnvelope:
		s.channels[e.channel](e.payload)
	case ControlEnvelope:
		if b := s.ops[e.channel].button; b != nil {
			b.remotePress(e.From)
		}
	}
}

// flush reports the pending progress: applied to this worker's tracker at
// once and sent to every peer as one batch.
func (s *Scope[T]) flush() {
	s.collect()
	if s.pending.IsEmpty() {
		return
	}
	if s.w.peers == 1 {
		s.tracker.apply(s.pending.Updates())
		s.pending.Clear()
		s.dirty = true
		return
	}
	msg := newProgressMsg(s.pending.Updates())
	s.pending.Clear()
	s.tracker.apply(msg.batch)
	s.dirty = true
	for p := range s.w.peers {
		if p != s.w.index {
			s.w.fabric.Send(Envelope{From: s.w.index, To: p, Kind: ProgressEnvelope, dataflow: s.index, shape: s.shape, payload: msg})
		}
	}
}

// propagate moves tracked changes to input frontiers and activates the
// operators that asked to hear of them.
func (s *Scope[T]) propagate() {
	if !s.dirty {
		return
	}
	s.dirty = false
	s.tracker.propagate()
	for _, l := range s.tracker.takeChanged() {
		op := s.ops[l.op]
		if op.notify[l.port] {
			s.w.activate(&op.operator)
		}
	}
}

// done reports whether the dataflow has completed: nothing holds a
// capability or is in flight, and every operator activated by the last
// changes (an input frontier going empty, say) has run and seen them.
func (s *Scope[T]) done() bool {
	if !s.tracker.done() || s.queued != 0 {
		return false
	}
	s.collect()
	return s.pending.IsEmpty()
}

func (s *Scope[T]) quiet() bool {
	s.collect()
	return !s.dirty && s.pending.IsEmpty()
}

func (s *Scope[T]) retire() {
	s.releaseShared()
	s.retired = true
	s.markDead()
	s.w.byIndex[s.index] = nil
}
