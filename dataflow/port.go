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
// the invocation. It returns false when the queue is empty. Only the
// input's own operator may read it, from its logic; Next panics otherwise.
func (in *InPort[T, D]) Next() (CapabilityRef[T], []D, bool) {
	if op := &in.meta.op.operator; op.w.current != op {
		// Read elsewhere, the message's time would be released at once,
		// while a ref minted here would outlive the step (it expires when
		// its operator's logic ends) and what a session at it buffered
		// would wait for the operator's next run: the frontier would pass
		// times still to be sent at.
		panic("dataflow: an input of " + op.name + " read outside its logic")
	}
	if in.head == len(in.queue) {
		in.queue, in.head = in.queue[:0], 0
		return CapabilityRef[T]{}, nil, false
	}
	m := in.queue[in.head]
	in.queue[in.head] = Message[T, D]{}
	in.head++
	meta := in.meta
	meta.permit.epoch++
	meta.op.scope.count(&meta.counts, m.Time, -1)
	return CapabilityRef[T]{time: m.Time, in: meta, epoch: meta.permit.epoch}, m.Data, true
}

// ForEach pops every queued message and calls f with each. The data slice
// becomes f's (it may modify it, keep it or pass it to OutPort.GiveBatch);
// the CapabilityRef, as any from Next, is valid until the next message is
// read from this input or the operator's logic returns: f should not let
// it, or a Session at it, escape the call (the last one's would still
// work until the logic returns, the others' would panic).
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
		self := c.self
		return o.st.session(self.time, &self.permit, self.permit.epoch)
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
	in := ref.in
	if in == nil || in.permit.epoch != ref.epoch || in.op != st.op || !in.identity[st.port] {
		ref.check(&st.op.operator, st.port) // panics, saying why
	}
	st.begin(ref.time)
	return Session[T, D]{st: st, t: ref.time, p: &in.permit, epoch: ref.epoch}
}

// session starts a session at t, permitted by p at epoch.
func (st *outState[T, D]) session(t T, p *permit[T], epoch uint64) Session[T, D] {
	st.begin(t)
	return Session[T, D]{st: st, t: t, p: p, epoch: epoch}
}

// begin prepares the output for a session at t: records buffered at
// another time are sent.
func (st *outState[T, D]) begin(t T) {
	if len(st.buf) > 0 && st.bufTime != t {
		st.setTime(t)
	}
}

// Session sends records at one time on one output. Several sessions of
// one output may be used in turn; records are sent in order, batched while
// consecutive records share a time. A session is valid only while what
// permitted it is: its capability is neither dropped nor downgraded, its
// CapabilityRef not expired. Sending on it afterwards panics, since the
// frontier may already have passed its time.
//
// A Session has four fields, so that the compiler keeps it in registers.
type Session[T frontier.Timestamp[T], D any] struct {
	st *outState[T, D]
	t  T
	// p at epoch is what permits sending at t: a capability or a
	// CapabilityRef's input.
	p     *permit[T]
	epoch uint64
}

// mustBeValid panics if what permitted the session no longer does.
func (s Session[T, D]) mustBeValid() {
	if s.p == nil || s.p.epoch != s.epoch {
		s.expired()
	}
}

func (s Session[T, D]) expired() {
	if s.p == nil {
		panic("dataflow: use of a zero Session")
	}
	s.p.expired(s.t)
}

// Give sends one record.
func (s Session[T, D]) Give(d D) {
	s.mustBeValid()
	st := s.st
	if st.bufTime != s.t {
		st.setTime(s.t)
	}
	if len(st.buf) == 0 {
		if cap(st.buf) == 0 {
			// As large as the last message sent, so that a stream of full
			// batches allocates once per batch and a trickle of single
			// records does not allocate a full batch for each.
			st.buf = make([]D, 0, min(BatchSize, max(minBufCap, st.lastLen)))
		}
		st.op.buffered = true
		if w := st.op.w; w.current != &st.op.operator {
			// Outside the operator's logic: run it so the buffer is sent.
			w.activate(&st.op.operator)
		}
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
	// buf holds the records given one at a time, at bufTime, until they
	// are sent as one message. When it is not empty, op.buffered is set.
	buf     []D
	bufTime T
	lastLen int // records in the last buffer sent
}

// minBufCap is the smallest capacity a session allocates for its buffer.
const minBufCap = 8

// consumer receives the messages of an output on behalf of one input: a
// pipeline input directly, an exchanged one through ex.
type consumer[T frontier.Timestamp[T], D any] struct {
	in *InPort[T, D]
	ex *exchangeConsumer[T, D]
}

// push takes ownership of data and counts the messages it creates.
func (c consumer[T, D]) push(sc *Scope[T], t T, data []D) {
	if c.ex != nil {
		c.ex.push(t, data)
		return
	}
	sc.count(&c.in.meta.counts, t, +1)
	c.in.enqueue(Message[T, D]{Time: t, Data: data})
}

// flush sends what the buffer holds.
func (st *outState[T, D]) flush() {
	if len(st.buf) > 0 {
		st.sendBuffer()
	}
}

//go:noinline
func (st *outState[T, D]) sendBuffer() {
	data := st.buf
	st.buf, st.lastLen = nil, len(data)
	st.send(st.bufTime, data)
}

func (st *outState[T, D]) send(t T, data []D) {
	sc := st.op.scope
	if sc.tracker == nil {
		// Still building: the stream's readers may not be attached yet.
		sc.deferred = append(sc.deferred, func() { st.send(t, data) })
		return
	}
	cs := st.consumers
	for ; len(cs) > 1; cs = cs[1:] {
		cs[0].push(sc, t, append([]D(nil), data...)) // each but the last gets a copy
	}
	if len(cs) == 1 {
		cs[0].push(sc, t, data)
	}
}
