package dataflow

import (
	"github.com/shardflow/shardflow/frontier"
)

// Capability is the permission to send on one output of an operator at its
// time or later. An operator starts with one capability per output at the
// minimum time. It may mint new ones at or after one it holds (Delayed),
// move one forward (Downgrade), and must Drop each explicitly: a capability
// that is never dropped holds back every downstream frontier forever.
// Worker.LiveCapabilities lists those not yet dropped.
//
// A Capability belongs to its worker's goroutine. Using a dropped
// capability panics.
type Capability[T frontier.Timestamp[T]] struct {
	time   T
	op     *opCore[T]
	output int
	live   int // index in the worker's live list; -1 once dropped
	// self is the capability itself. Session takes it from here rather
	// than from its Cap argument, so that escape analysis does not tie
	// the argument to the result: a CapabilityRef value passed as a Cap
	// then stays on the stack.
	self *Capability[T]
	// permit's epoch changes when the capability is downgraded or dropped,
	// expiring the sessions it permitted.
	permit permit[T]
}

// permit is what a Session checks before each send: the permission it was
// started under, a capability's or an input's, is still good while its
// epoch is unchanged. One of cap and in is set, for the panic's message.
type permit[T frontier.Timestamp[T]] struct {
	epoch uint64
	cap   *Capability[T]
	in    *inputMeta[T]
}

// expired panics with the error of a session at t whose permit expired.
func (p *permit[T]) expired(t T) {
	if c := p.cap; c != nil {
		panic(&CapabilityError{Op: "send", Operator: c.op.name, Time: c.time, Request: t, Reason: ErrSessionExpired})
	}
	panic(&CapabilityError{Op: "send", Operator: p.in.op.name, Time: t, Request: t, Reason: ErrSessionExpired})
}

// Cap is what an output Session accepts: a *Capability, or a CapabilityRef
// for the time of a message being read.
type Cap[T any] interface {
	Time() T
	// check panics unless the holder permits sending on output of op.
	check(op *operator, output int)
}

// newCapability registers a capability; counted says whether its creation
// is reported as progress (initial capabilities are counted up front).
func newCapability[T frontier.Timestamp[T]](op *opCore[T], output int, t T, counted bool) *Capability[T] {
	c := &Capability[T]{time: t, op: op, output: output}
	c.self = c
	c.permit.cap = c
	if counted {
		op.scope.count(&op.outputs[output].counts, t, +1)
	}
	op.w.addLive(c)
	return c
}

// Time returns the capability's time.
func (c *Capability[T]) Time() T { return c.time }

// Output returns the index of the output the capability is for.
func (c *Capability[T]) Output() int { return c.output }

// Valid reports whether the capability has not been dropped.
func (c *Capability[T]) Valid() bool { return c.live >= 0 }

func (c *Capability[T]) check(op *operator, output int) {
	if c.live < 0 {
		panic(&CapabilityError{Op: "send", Operator: op.name, Time: c.time, Request: c.time, Reason: ErrDropped})
	}
	if &c.op.operator != op || c.output != output {
		panic("dataflow: capability of " + c.op.name + " used on an output of " + op.name)
	}
}

// Delayed returns a new capability for the same output at t, which must be
// at or after c's time. It panics otherwise (see TryDelayed).
func (c *Capability[T]) Delayed(t T) *Capability[T] {
	d, err := c.TryDelayed(t)
	if err != nil {
		panic(err)
	}
	return d
}

// TryDelayed is Delayed reporting a *CapabilityError (ErrNotDelayed or
// ErrDropped) instead of panicking.
func (c *Capability[T]) TryDelayed(t T) (*Capability[T], error) {
	if err := c.allow("Delayed", t); err != nil {
		return nil, err
	}
	return newCapability(c.op, c.output, t, true), nil
}

// Downgrade moves c to t, which must be at or after its time. It panics
// otherwise (see TryDowngrade).
func (c *Capability[T]) Downgrade(t T) {
	if err := c.TryDowngrade(t); err != nil {
		panic(err)
	}
}

// TryDowngrade is Downgrade reporting a *CapabilityError instead of
// panicking.
func (c *Capability[T]) TryDowngrade(t T) error {
	if err := c.allow("Downgrade", t); err != nil {
		return err
	}
	if t == c.time {
		return nil
	}
	c.sendBuffered()
	c.permit.epoch++
	pc := &c.op.outputs[c.output].counts
	c.op.scope.count(pc, t, +1)
	c.op.scope.count(pc, c.time, -1)
	c.time = t
	return nil
}

func (c *Capability[T]) allow(what string, t T) error {
	if c.live < 0 {
		return &CapabilityError{Op: what, Operator: c.op.name, Time: c.time, Request: t, Reason: ErrDropped}
	}
	if !c.time.LessEqual(t) {
		return &CapabilityError{Op: what, Operator: c.op.name, Time: c.time, Request: t, Reason: ErrNotDelayed}
	}
	return nil
}

// Drop gives the capability up. Dropping it twice panics.
func (c *Capability[T]) Drop() {
	if c.live < 0 {
		panic(&CapabilityError{Op: "Drop", Operator: c.op.name, Time: c.time, Request: c.time, Reason: ErrDropped})
	}
	c.sendBuffered()
	c.op.scope.count(&c.op.outputs[c.output].counts, c.time, -1)
	c.op.w.removeLive(c.live)
	c.live = -1
	c.permit.epoch++
}

// sendBuffered sends what c's output has buffered, so that the messages
// sent under c are counted before c's retraction. Within the operator's
// logic they would be counted in the same batch anyway; a session used
// from elsewhere (driving code, another operator that already ran this
// step) would otherwise leave them buffered while the retraction is
// reported, and the frontier would pass them.
func (c *Capability[T]) sendBuffered() { c.op.flushers[c.output]() }

func (c *Capability[T]) setLive(i int)      { c.live = i }
func (c *Capability[T]) dataflowIndex() int { return c.op.scope.index }
func (c *Capability[T]) info() CapabilityInfo {
	return CapabilityInfo{
		Worker:        c.op.w.index,
		Dataflow:      c.op.scope.name,
		Operator:      c.op.name,
		OperatorIndex: c.op.index,
		Output:        c.output,
		Time:          c.time,
	}
}

// CapabilityRef stands for the time of a message being read from an input.
// It is valid only until the next message is read from that input or the
// operator's logic returns; it lets the operator send at the message's time
// on outputs the input is connected to, or retain a Capability.
type CapabilityRef[T frontier.Timestamp[T]] struct {
	time  T
	in    *inputMeta[T]
	epoch uint64
}

// Time returns the message's time.
func (r CapabilityRef[T]) Time() T { return r.time }

// Retain returns a capability at the message's time for output 0.
func (r CapabilityRef[T]) Retain() *Capability[T] { return r.DelayedFor(0, r.time) }

// RetainFor returns a capability at the message's time for output.
func (r CapabilityRef[T]) RetainFor(output int) *Capability[T] { return r.DelayedFor(output, r.time) }

// Delayed returns a capability at t for output 0.
func (r CapabilityRef[T]) Delayed(t T) *Capability[T] { return r.DelayedFor(0, t) }

// DelayedFor returns a capability at t for output. The input must be
// connected to output and t must be at or after the message's time carried
// through the connection's summary; otherwise it panics.
func (r CapabilityRef[T]) DelayedFor(output int, t T) *Capability[T] {
	min := r.minimum(output)
	if !min.LessEqual(t) {
		panic(&CapabilityError{Op: "Delayed", Operator: r.in.op.name, Time: min, Request: t, Reason: ErrNotDelayed})
	}
	return newCapability(r.in.op, output, t, true)
}

// minimum returns the least time r permits on output, panicking if r has
// expired or the input is not connected to output.
func (r CapabilityRef[T]) minimum(output int) T {
	if r.in == nil || r.epoch != r.in.permit.epoch {
		panic("dataflow: CapabilityRef used after its message was released")
	}
	op := r.in.op
	if output < 0 || output >= len(op.outputs) {
		panic("dataflow: no such output")
	}
	for _, e := range op.conn[r.in.port] {
		if e.out != output {
			continue
		}
		if e.s == nil {
			return r.time
		}
		t, ok := applyStrict(e.s, r.time)
		if !ok {
			panic("dataflow: the summary gives no time for this message on output")
		}
		return t
	}
	panic("dataflow: input " + op.name + " is not connected to the output")
}

func (r CapabilityRef[T]) check(op *operator, output int) {
	if r.in != nil && &r.in.op.operator != op {
		panic("dataflow: CapabilityRef of " + r.in.op.name + " used on an output of " + op.name)
	}
	if min := r.minimum(output); min != r.time {
		panic("dataflow: a message's time may not be used on an output whose summary advances it")
	}
}
