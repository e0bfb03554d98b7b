package dataflowtest

import (
	"math/rand/v2"

	"github.com/shardflow/shardflow/dataflow"
)

// QueueFabric is a dataflow.Fabric that delivers nothing by itself: every
// envelope waits in a queue until the test delivers it, in an order the
// test's seeded random source picks. Progress and control envelopes of one
// sender to one receiver keep their order; data envelopes may overtake
// anything.
//
// It is not safe for concurrent use: the workers using it must all be
// stepped from one goroutine.
type QueueFabric struct {
	n int
	// queued[from*n+to] holds the envelopes sent and not yet delivered.
	queued [][]dataflow.Envelope
	// inbox[to] holds delivered envelopes the worker has not received.
	inbox [][]dataflow.Envelope
	sent  int
}

// NewQueueFabric returns a fabric for n workers.
func NewQueueFabric(n int) *QueueFabric {
	return &QueueFabric{n: n, queued: make([][]dataflow.Envelope, n*n), inbox: make([][]dataflow.Envelope, n)}
}

// Send queues e.
func (f *QueueFabric) Send(e dataflow.Envelope) {
	i := e.From*f.n + e.To
	f.queued[i] = append(f.queued[i], e)
	f.sent++
}

// Receive hands worker w what has been delivered to it.
func (f *QueueFabric) Receive(w int, buf []dataflow.Envelope) []dataflow.Envelope {
	buf = append(buf, f.inbox[w]...)
	clear(f.inbox[w])
	f.inbox[w] = f.inbox[w][:0]
	return buf
}

// SetWaker does nothing: the test steps every worker itself.
func (f *QueueFabric) SetWaker(int, func()) {}

// InFlight returns the number of envelopes sent and not yet delivered.
func (f *QueueFabric) InFlight() int {
	n := 0
	for _, q := range f.queued {
		n += len(q)
	}
	return n
}

// Sent returns the number of envelopes sent so far.
func (f *QueueFabric) Sent() int { return f.sent }

type slot struct{ queue, pos int }

// DeliverOne delivers one envelope chosen uniformly among those that may be
// delivered next, reporting false if none is queued.
func (f *QueueFabric) DeliverOne(rng *rand.Rand) bool {
	var eligible []slot
	for qi, q := range f.queued {
		ordered := false
		for pos, e := range q {
			switch {
			case e.Kind == dataflow.DataEnvelope:
				eligible = append(eligible, slot{qi, pos})
			case !ordered:
				// The first ordered envelope; those after it must wait.
				ordered = true
				eligible = append(eligible, slot{qi, pos})
			}
		}
	}
	if len(eligible) == 0 {
		return false
	}
	s := eligible[rng.IntN(len(eligible))]
	q := f.queued[s.queue]
	e := q[s.pos]
	f.queued[s.queue] = append(q[:s.pos], q[s.pos+1:]...)
	f.inbox[e.To] = append(f.inbox[e.To], e)
	return true
}

// DeliverAll delivers every queued envelope in a random order.
func (f *QueueFabric) DeliverAll(rng *rand.Rand) {
	for f.DeliverOne(rng) {
	}
}

// Undelivered returns every envelope not yet received by its worker: those
// queued and those delivered but not yet received.
func (f *QueueFabric) Undelivered() []dataflow.Envelope {
	var out []dataflow.Envelope
	for _, q := range f.queued {
		out = append(out, q...)
	}
	for _, q := range f.inbox {
		out = append(out, q...)
	}
	return out
}

// OrderedInFlight returns the number of progress and control envelopes
// queued or delivered but not yet received.
func (f *QueueFabric) OrderedInFlight() int {
	n := 0
	for _, e := range f.Undelivered() {
		if e.Kind != dataflow.DataEnvelope {
			n++
		}
	}
	return n
}
