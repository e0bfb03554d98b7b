package dataflow

import (
	"github.com/shardflow/shardflow/frontier"
)

// InputHandle feeds records from driving code into a dataflow. It holds a
// capability at its current time; Close drops it. It is used on the
// worker's goroutine, between steps or inside the dataflow's build
// function.
type InputHandle[T frontier.Timestamp[T], D any] struct {
	out *OutPort[T, D]
	cap *Capability[T]
}

// NewInput adds an input operator to s and returns its handle and stream.
// The handle starts at the minimum time.
func NewInput[D any, T frontier.Timestamp[T]](s *Scope[T]) (*InputHandle[T, D], *Stream[T, D]) {
	b := NewBuilder(s, "input")
	out, stream := AddOutput[D](b)
	h := &InputHandle[T, D]{out: out}
	b.Build(func(caps []*Capability[T]) func() {
		h.cap = caps[0]
		return nil
	})
	return h, stream
}

// Time returns the time records are sent at.
func (h *InputHandle[T, D]) Time() T {
	h.mustBeOpen()
	return h.cap.Time()
}

// Send sends one record at the current time.
func (h *InputHandle[T, D]) Send(d D) {
	h.mustBeOpen()
	h.out.Session(h.cap).Give(d)
}

// SendBatch sends ds as one message, without copying; ds becomes the
// runtime's.
func (h *InputHandle[T, D]) SendBatch(ds []D) {
	h.mustBeOpen()
	h.out.Session(h.cap).GiveBatch(ds)
}

// AdvanceTo moves the input to t, which must be at or after its current
// time: no record earlier than t will be sent any more.
func (h *InputHandle[T, D]) AdvanceTo(t T) {
	h.mustBeOpen()
	h.out.st.flush()
	h.cap.Downgrade(t)
}

// Close sends what is buffered and drops the capability: the input is done.
// Closing twice does nothing.
func (h *InputHandle[T, D]) Close() {
	if h.cap == nil {
		return
	}
	h.out.st.flush()
	h.cap.Drop()
	h.cap = nil
}

// Closed reports whether Close was called.
func (h *InputHandle[T, D]) Closed() bool { return h.cap == nil }

func (h *InputHandle[T, D]) mustBeOpen() {
	if h.cap == nil {
		panic("dataflow: use of a closed input")
	}
}
