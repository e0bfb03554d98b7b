package dataflow

import (
	"github.com/shardflow/shardflow/frontier"
)

// opCore is one operator of a dataflow with timestamp T.
type opCore[T frontier.Timestamp[T]] struct {
	operator
	scope *Scope[T]
	// conn[input] lists the outputs input is connected to, and how.
	conn    [][]summaryEdge[T]
	notify  []bool
	inputs  []*inputMeta[T]
	outputs []*outputMeta[T]
	// flushers send whatever the outputs buffered, after each invocation.
	flushers []func()
	// buffered is set when an output may hold buffered records.
	buffered bool
}

type inputMeta[T frontier.Timestamp[T]] struct {
	op   *opCore[T]
	port int
	// permit's epoch counts messages read and invocations ended: a
	// CapabilityRef, and a Session it started, is valid while it is
	// unchanged.
	permit permit[T]
	// queuedTimes calls f with the time of each queued message (for
	// checking the tracker against the messages that exist).
	queuedTimes func(f func(T))
	// counts accumulates the changes in messages queued here.
	counts portCounts[T]
	// identity[o] says whether the input is connected to output o with
	// the identity summary: whether its CapabilityRefs permit sending there.
	identity []bool
}

type outputMeta[T frontier.Timestamp[T]] struct {
	// targets lists the input ports this output feeds.
	targets []location
	// counts accumulates the changes in capabilities held for it.
	counts portCounts[T]
}

// Builder describes one operator: its inputs, outputs, how each input is
// connected to each output, and its logic. Create it with NewBuilder, add
// ports with AddInput and AddOutput, then call Build exactly once.
type Builder[T frontier.Timestamp[T]] struct {
	op    *opCore[T]
	built bool
	// overrides to the default (every input connected to every output
	// with the identity summary).
	overrides []connOverride[T]
}

type connOverride[T frontier.Timestamp[T]] struct {
	input, output int
	connected     bool
	s             Summary[T]
}

// NewBuilder starts an operator named name in scope s. Its index in the
// dataflow is fixed now, in the order builders are created.
func NewBuilder[T frontier.Timestamp[T]](s *Scope[T], name string) *Builder[T] {
	if s.tracker != nil {
		panic("dataflow: NewBuilder on a dataflow that is already running")
	}
	op := &opCore[T]{scope: s}
	op.operator = operator{name: name, index: len(s.ops), w: s.w, df: s, dfQueued: &s.queued}
	s.ops = append(s.ops, op)
	return &Builder[T]{op: op}
}

// Index returns the operator's index within its dataflow.
func (b *Builder[T]) Index() int { return b.op.index }

// Name returns the operator's name.
func (b *Builder[T]) Name() string { return b.op.name }

// Scope returns the operator's scope.
func (b *Builder[T]) Scope() *Scope[T] { return b.op.scope }

// SetConnection says whether input is connected to output. A connected
// input holds back the output's frontier by its own; a disconnected one
// does not (and capabilities cannot be retained from its messages for that
// output). By default every input is connected to every output.
func (b *Builder[T]) SetConnection(input, output int, connected bool) {
	b.mustNotBeBuilt()
	b.overrides = append(b.overrides, connOverride[T]{input: input, output: output, connected: connected})
}

// setSummary connects input to output through s (a feedback edge).
func (b *Builder[T]) setSummary(input, output int, s Summary[T]) {
	b.overrides = append(b.overrides, connOverride[T]{input: input, output: output, connected: true, s: s})
}

// SetNotify says whether a change of input's frontier activates the
// operator (the default). Operators that look at a frontier only when
// activated for other reasons should turn it off: idle operators then cost
// nothing.
func (b *Builder[T]) SetNotify(input int, notify bool) {
	b.mustNotBeBuilt()
	b.op.notify[input] = notify
}

// Activator returns an activator for the operator, for its worker's
// goroutine.
func (b *Builder[T]) Activator() *Activator { return &Activator{op: &b.op.operator} }

// SyncActivator returns an activator for the operator that any goroutine
// may fire.
func (b *Builder[T]) SyncActivator() *SyncActivator { return &SyncActivator{op: &b.op.operator} }

// ShutdownButton returns the operator's two-phase shutdown button and a
// token for the program to press it with (see Button).
func (b *Builder[T]) ShutdownButton() (*Button, *ShutdownToken) {
	if b.op.button == nil {
		b.op.button = newButton(&b.op.operator, b.op.w.peers)
	}
	return b.op.button, &ShutdownToken{button: b.op.button}
}

func (b *Builder[T]) mustNotBeBuilt() {
	if b.built {
		panic("dataflow: operator " + b.op.name + " is already built")
	}
}

// Build finishes the operator. constructor receives the initial
// capabilities, one per output at the minimum time, and returns the logic
// the worker calls each time the operator is scheduled: at least once after
// the dataflow starts, then on arriving data, on frontier changes of inputs
// that notify, and on activation. After the logic returns, whatever its
// outputs buffered is sent.
func (b *Builder[T]) Build(constructor func(caps []*Capability[T]) func()) {
	b.mustNotBeBuilt()
	b.built = true
	op := b.op
	nIn, nOut := len(op.inputs), len(op.outputs)
	conn := make([][]summaryEdge[T], nIn)
	type key struct{ i, o int }
	over := map[key]connOverride[T]{}
	for _, o := range b.overrides {
		if o.input < 0 || o.input >= nIn || o.output < 0 || o.output >= nOut {
			panic("dataflow: connection of a port that does not exist")
		}
		over[key{o.input, o.output}] = o
	}
	for i := range nIn {
		for o := range nOut {
			c, ok := over[key{i, o}]
			switch {
			case !ok:
				conn[i] = append(conn[i], summaryEdge[T]{out: o})
			case c.connected:
				conn[i] = append(conn[i], summaryEdge[T]{out: o, s: c.s})
			}
		}
	}
	op.conn = conn
	for i, in := range op.inputs {
		in.identity = make([]bool, nOut)
		for _, e := range conn[i] {
			in.identity[e.out] = e.s == nil
		}
	}
	var zero T
	caps := make([]*Capability[T], nOut)
	for o := range caps {
		caps[o] = newCapability(op, o, zero, false)
	}
	logic := constructor(caps)
	if logic == nil {
		logic = func() {}
	}
	op.logic = logic
	op.post = op.afterLogic
	op.w.activate(&op.operator)
}

// afterLogic runs after each invocation: it sends what the outputs
// buffered and expires the CapabilityRefs of the invocation.
func (op *opCore[T]) afterLogic() {
	if op.buffered {
		op.buffered = false
		for _, f := range op.flushers {
			f()
		}
	}
	for _, in := range op.inputs {
		in.permit.epoch++
	}
}

// Stream is the output of an operator, which any number of inputs may
// read. Each input receives every message.
type Stream[T frontier.Timestamp[T], D any] struct {
	out *outState[T, D]
}

// Scope returns the scope the stream belongs to.
func (s *Stream[T, D]) Scope() *Scope[T] { return s.out.op.scope }

// AddInput adds an input reading stream s, with pact deciding which worker
// receives each record, and returns its port.
func AddInput[T frontier.Timestamp[T], D any](b *Builder[T], s *Stream[T, D], pact Pact[D]) *InPort[T, D] {
	b.mustNotBeBuilt()
	in := addInputPort[T, D](b)
	attach(s, in, pact)
	return in
}

func addInputPort[T frontier.Timestamp[T], D any](b *Builder[T]) *InPort[T, D] {
	op := b.op
	meta := &inputMeta[T]{op: op, port: len(op.inputs)}
	meta.counts.loc = target(op.index, meta.port)
	meta.permit.in = meta
	op.inputs = append(op.inputs, meta)
	op.notify = append(op.notify, true)
	in := &InPort[T, D]{meta: meta}
	meta.queuedTimes = func(f func(T)) {
		for _, m := range in.queue[in.head:] {
			f(m.Time)
		}
	}
	return in
}

// AddOutput adds an output to the operator and returns its port and the
// stream it produces.
func AddOutput[D any, T frontier.Timestamp[T]](b *Builder[T]) (*OutPort[T, D], *Stream[T, D]) {
	b.mustNotBeBuilt()
	op := b.op
	meta := &outputMeta[T]{counts: portCounts[T]{loc: source(op.index, len(op.outputs))}}
	st := &outState[T, D]{op: op, port: len(op.outputs), meta: meta}
	op.outputs = append(op.outputs, meta)
	op.flushers = append(op.flushers, st.flush)
	return &OutPort[T, D]{st: st}, &Stream[T, D]{out: st}
}
