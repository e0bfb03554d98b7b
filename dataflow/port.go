package dataflow

import (
	"github.com/shardflow/shardflow/frontier"
)

// BatchSize is the number of records an output buffers before it sends them
// as one message.
const BatchSize = 1024

// Message is a batch of records, all at one time.
type Message[T, D any] struct {
	Time T
	Data []D
}

// messageTime returns m.Time, for code that does not know D.
func (m Message[T, D]) messageTime() any { return m.Time }

// InPort is an input of an operator: a queue of messages and a frontier.
type InPort[T frontier.Timestamp[T], D any] struct {
	meta  *inputMeta[T]
	queue []Message[T, D]
	head  int
}

// Next pops the next message. The data slice becomes the caller's; the
// CapabilityRef is valid until the next read from this input or the end of
// the invocation. It returns false when the queue is empty.
func (in *InPort[T, D]) Next() (CapabilityRef[T], []D, bool) {
	if in.head == len(in.queue) {
		in.queue, in.head = in.queue[:0], 0
		return CapabilityRef[T]{}, nil, false
	}
	m := in.queue[in.head]
	in.queue[in.head] = Message[T, D]{}
	in.head++
	meta := in.meta
	meta.epoch++
	meta.op.scope.count(&meta.counts, m.Time, -1)
	return CapabilityRef[T]{time: m.Time, in: meta, epoch: meta.epoch}, m.Data, true
}

// ForEach pops every queued message and calls f with each. The data slice
// becomes f's (it may modify it, keep it or pass it to OutPort.GiveBatch);
// the CapabilityRef is valid only during the call.
func (in *InPort[T, D]) ForEach(f func(CapabilityRef[T], []D)) {
	for {
		ref, data, ok := in.Next()
		if !ok {
			return
		}
		f(ref, data)
	}
}

// Pending reports whether messages are queued.
func (in *InPort[T, D]) Pending() bool { return in.head < len(in.queue) }

// Frontier returns the input's frontier: a lower bound on the time of every
// message that may still arrive, queued messages included. It shares
// storage with the tracker and is valid until the worker steps again.
func (in *InPort[T, D]) Frontier() frontier.Antichain[T] {
	s := in.meta.op.scope
	if s.tracker == nil {
		return frontier.Minimum[T]()
	}
	return s.tracker.frontier(in.meta.op.index, in.meta.port).Frontier()
}

// Index returns the input's index on its operator.
func (in *InPort[T, D]) Index() int { return in.meta.port }

// enqueue adds a message that has been counted at this input.
func (in *InPort[T, D]) enqueue(m Message[T, D]) {
	in.queue = append(in.queue, m)
	in.meta.op.w.activate(&in.meta.op.operator)
}

// OutPort is an output of an operator.
type OutPort[T frontier.Timestamp[T], D any] struct {
	st *outState[T, D]
}

// Index returns the output's index on its operator.
func (o *OutPort[T, D]) Index() int { return o.st.port }

// Session returns a session that sends at c's time on this output. c must be
// a live capability for this output, or a CapabilityRef of an input
// connected to it with the identity summary; otherwise Session panics.
// SessionAt is the same for a CapabilityRef, without the interface.
func (o *OutPort[T, D]) Session(c Cap[T]) Session[T, D] {
	switch c := c.(type) {
	case *Capability[T]:
		c.check(&o.st.op.operator, o.st.port)
		return o.st.session(c.time, c.self, nil, 0)
	case CapabilityRef[T]:
		return o.SessionAt(c)
	case *CapabilityRef[T]:
		return o.SessionAt(*c)
	}
	// Cap's methods are unexported, so only a type embedding one of ours
	// gets here; calling its methods would make every c escape.
	panic("dataflow: Session needs a *Capability or a CapabilityRef")
}

// SessionAt returns a session that sends at the time of the message ref
// stands for, while ref is valid. ref's input must be connected to this
// output with the identity summary; otherwise SessionAt panics.
func (o *OutPort[T, D]) SessionAt(ref CapabilityRef[T]) Session[T, D] {
	st := o.st
	if in := ref.in; in == nil || in.epoch != ref.epoch || in.op != st.op || !in.identity[st.port] {
		ref.check(&st.op.operator, st.port) // panics, saying why
	}
	return st.session(ref.time, nil, ref.in, ref.epoch)
}

// session starts a session at t, permitted by c or by in at epoch.
func (st *outState[T, D]) session(t T, c *Capability[T], in *inputMeta[T], epoch uint64) Session[T, D] {
	st.setTime(t)
	if w := st.op.w; w.current != &st.op.operator {
		// Outside the operator's logic: run it so the buffer is sent.
		w.activate(&st.op.operator)
	}
	return Session[T, D]{st: st, t: t, cap: c, in: in, epoch: epoch}
}

// Session sends records at one time on one output. Several sessions of
// one output may be used in turn; records are sent in order, batched while
// consecutive records share a time. A session is valid only while what
// permitted it is: its capability is neither dropped nor downgraded, its
// CapabilityRef not expired. Sending on it afterwards panics, since the
// frontier may already have passed its time.
type Session[T frontier.Timestamp[T], D any] struct {
	st *outState[T, D]
	t  T
	// cap, or in at epoch, is what permits sending at t.
	cap   *Capability[T]
	in    *inputMeta[T]
	epoch uint64
}

// mustBeValid panics if what permitted the session no longer does.
func (s Session[T, D]) mustBeValid() {
	if c := s.cap; c != nil && (c.live < 0 || c.time != s.t) {
		panic(&CapabilityError{Op: "send", Operator: c.op.name, Time: c.time, Request: s.t, Reason: ErrSessionExpired})
	}
	if s.in != nil && s.in.epoch != s.epoch {
		panic(&CapabilityError{Op: "send", Operator: s.in.op.name, Time: s.t, Request: s.t, Reason: ErrSessionExpired})
	}
}

// Give sends one record.
func (s Session[T, D]) Give(d D) {
	s.mustBeValid()
	st := s.st
	if st.bufTime != s.t {
		st.setTime(s.t)
	}
	if cap(st.buf) == 0 {
		st.buf = make([]D, 0, BatchSize)
	}
	st.buf = append(st.buf, d)
	if len(st.buf) >= BatchSize {
		st.flush()
	}
}

// GiveSlice sends a copy of each record of ds.
func (s Session[T, D]) GiveSlice(ds []D) {
	for _, d := range ds {
		s.Give(d)
	}
}

// GiveBatch sends ds as one message without copying: ds becomes the
// runtime's and must not be used afterwards.
func (s Session[T, D]) GiveBatch(ds []D) {
	if len(ds) == 0 {
		return
	}
	s.mustBeValid()
	s.st.flush()
	s.st.send(s.t, ds)
}

// setTime makes t the time of the buffer, sending what it holds at another
// time.
func (st *outState[T, D]) setTime(t T) {
	if len(st.buf) > 0 && st.bufTime != t {
		st.flush()
	}
	st.bufTime = t
}

// outState is an output's buffer and the inputs that read it.
type outState[T frontier.Timestamp[T], D any] struct {
	op        *opCore[T]
	port      int
	meta      *outputMeta[T]
	consumers []consumer[T, D]
	buf       []D
	bufTime   T
}

// consumer receives the messages of an output on behalf of one input.
type consumer[T frontier.Timestamp[T], D any] interface {
	// push takes ownership of data and counts the messages it creates.
	push(t T, data []D)
}

func (st *outState[T, D]) flush() {
	if len(st.buf) == 0 {
		return
	}
	data := st.buf
	st.buf = nil
	st.send(st.bufTime, data)
}

func (st *outState[T, D]) send(t T, data []D) {
	if sc := st.op.scope; sc.tracker == nil {
		// Still building: the stream's readers may not be attached yet.
		sc.deferred = append(sc.deferred, func() { st.send(t, data) })
		return
	}
	last := len(st.consumers) - 1
	for i, c := range st.consumers {
		if i < last {
			c.push(t, append([]D(nil), data...))
		} else {
			c.push(t, data)
		}
	}
}
