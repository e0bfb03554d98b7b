package dataflow

import "sync"

// EnvelopeKind says what an Envelope carries.
type EnvelopeKind uint8

const (
	// DataEnvelope carries a batch of records for an exchanged input. Data
	// envelopes may be delivered in any order.
	DataEnvelope EnvelopeKind = iota
	// ProgressEnvelope carries one atomic batch of progress updates.
	// Progress envelopes from one sender to one receiver must be delivered
	// in the order they were sent.
	ProgressEnvelope
	// ControlEnvelope carries a shutdown-button press. Like progress, it is
	// delivered in order per sender.
	ControlEnvelope
)

func (k EnvelopeKind) String() string {
	switch k {
	case DataEnvelope:
		return "data"
	case ProgressEnvelope:
		return "progress"
	case ControlEnvelope:
		return "control"
	}
	return "unknown"
}

// Envelope is one message between two workers. Its payload is opaque to the
// fabric; a fabric only queues and delivers envelopes.
type Envelope struct {
	From, To int
	Kind     EnvelopeKind

	dataflow int
	// shape is the sender's shape of the dataflow (see Scope.shape), which
	// the receiver's must equal.
	shape   uint64
	channel int // data: the exchange channel; control: the operator index
	payload any
}

// Fabric moves envelopes between the workers of one Execute (or one
// NewWorkers group). Workers are goroutines of one process, so a fabric
// moves pointers, never bytes.
//
// Send may be called from the sender's goroutine only; Receive from the
// receiver's only. A fabric must deliver the ProgressEnvelope and
// ControlEnvelope messages of one sender to one receiver in send order (per
// sender FIFO); data envelopes may be reordered.
type Fabric interface {
	// Send queues e for worker e.To.
	Send(e Envelope)
	// Receive appends the envelopes delivered to worker w to buf and
	// returns it.
	Receive(w int, buf []Envelope) []Envelope
	// SetWaker registers wake, which the fabric calls (from any goroutine)
	// after an envelope is delivered to worker w, so that a parked worker
	// wakes up.
	SetWaker(w int, wake func())
}

// NewChannelFabric returns the in-process fabric Execute uses: one
// mutex-guarded mailbox per worker, delivering at once and in order.
func NewChannelFabric(workers int) Fabric {
	f := &channelFabric{boxes: make([]mailbox, workers)}
	return f
}

type channelFabric struct {
	boxes []mailbox
}

type mailbox struct {
	mu struct {
		sync.Mutex
		queue []Envelope
		wake  func()
	}
}

func (f *channelFabric) Send(e Envelope) {
	b := &f.boxes[e.To]
	b.mu.Lock()
	b.mu.queue = append(b.mu.queue, e)
	wake := b.mu.wake
	b.mu.Unlock()
	if wake != nil {
		wake()
	}
}

func (f *channelFabric) Receive(w int, buf []Envelope) []Envelope {
	b := &f.boxes[w]
	b.mu.Lock()
	buf = append(buf, b.mu.queue...)
	clear(b.mu.queue)
	b.mu.queue = b.mu.queue[:0]
	b.mu.Unlock()
	return buf
}

func (f *channelFabric) SetWaker(w int, wake func()) {
	b := &f.boxes[w]
	b.mu.Lock()
	b.mu.wake = wake
	b.mu.Unlock()
}
