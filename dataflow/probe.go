package dataflow

import (
	"github.com/shardflow/shardflow/frontier"
)

// ProbeHandle shows driving code the frontier of one or more streams: the
// times that may still appear on them. It is read on the worker's
// goroutine, typically between steps:
//
//	for probe.LessThan(t) { w.Step() }
type ProbeHandle[T frontier.Timestamp[T]] struct {
	ports []probePort[T]
	buf   frontier.Antichain[T]
}

type probePort[T frontier.Timestamp[T]] struct {
	scope *Scope[T]
	op    int
}

// NewProbeHandle returns a probe that watches nothing yet (its frontier is
// empty); attach it to streams with ProbeWith.
func NewProbeHandle[T frontier.Timestamp[T]]() *ProbeHandle[T] { return &ProbeHandle[T]{} }

// ProbeWith makes h watch s and returns a stream with the same records.
func ProbeWith[T frontier.Timestamp[T], D any](s *Stream[T, D], h *ProbeHandle[T]) *Stream[T, D] {
	b := NewBuilder(s.Scope(), "probe")
	in := AddInput(b, s, Pipeline[D]())
	out, stream := AddOutput[D](b)
	b.SetNotify(0, false)
	h.ports = append(h.ports, probePort[T]{scope: s.Scope(), op: b.Index()})
	b.Build(func(caps []*Capability[T]) func() {
		caps[0].Drop()
		return func() {
			in.ForEach(func(ref CapabilityRef[T], data []D) {
				out.SessionAt(ref).GiveBatch(data)
			})
		}
	})
	return stream
}

// Frontier returns the meet of the watched streams' frontiers. The result
// is valid until the next call.
func (h *ProbeHandle[T]) Frontier() frontier.Antichain[T] {
	h.buf.Clear()
	for _, p := range h.ports {
		if p.scope.tracker == nil {
			h.buf.Insert(*new(T))
			continue
		}
		h.buf.Extend(p.scope.tracker.frontier(p.op, 0).Frontier().Elements()...)
	}
	return h.buf
}

// LessThan reports whether some time < t may still appear: the streams
// have not yet passed every time before t.
func (h *ProbeHandle[T]) LessThan(t T) bool { return h.Frontier().LessThan(t) }

// LessEqual reports whether some time <= t may still appear.
func (h *ProbeHandle[T]) LessEqual(t T) bool { return h.Frontier().LessEqual(t) }

// Done reports whether the watched streams are finished.
func (h *ProbeHandle[T]) Done() bool { return h.Frontier().IsEmpty() }
