package operators

import (
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// Unary builds an operator named name with one input, reading s through
// pact, and one output. ctor runs once: it receives the output's initial
// capability, at the minimum time, which it must keep, downgrade or drop,
// and the operator's builder, of which only Activator, SyncActivator,
// ShutdownButton, Index and Scope may still be used. It returns the logic,
// which runs on arriving data, on every change of the input's frontier
// (in.Frontier) and on activation.
func Unary[T frontier.Timestamp[T], D, E any](
	s *dataflow.Stream[T, D], pact dataflow.Pact[D], name string,
	ctor func(c *dataflow.Capability[T], b *dataflow.Builder[T]) func(in *dataflow.InPort[T, D], out *dataflow.OutPort[T, E]),
) *dataflow.Stream[T, E] {
	b := dataflow.NewBuilder(s.Scope(), name)
	in := dataflow.AddInput(b, s, pact)
	out, stream := dataflow.AddOutput[E](b)
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		logic := ctor(caps[0], b)
		return func() { logic(in, out) }
	})
	return stream
}

// UnaryNotify is Unary for operators that work at times once they are
// complete. The initial capability is dropped; the logic keeps
// capabilities in the Notificator (NotifyAt(ref.Retain())) and finishes
// each time in n.ForEach once the input frontier has passed it.
func UnaryNotify[T frontier.Timestamp[T], D, E any](
	s *dataflow.Stream[T, D], pact dataflow.Pact[D], name string,
	logic func(in *dataflow.InPort[T, D], out *dataflow.OutPort[T, E], n *Notificator[T]),
) *dataflow.Stream[T, E] {
	return Unary(s, pact, name, func(c *dataflow.Capability[T], _ *dataflow.Builder[T]) func(*dataflow.InPort[T, D], *dataflow.OutPort[T, E]) {
		c.Drop()
		var n *Notificator[T]
		return func(in *dataflow.InPort[T, D], out *dataflow.OutPort[T, E]) {
			if n == nil {
				n = NewNotificator(in.Frontier)
			}
			logic(in, out, n)
		}
	})
}

// Binary builds an operator named name with two inputs, reading s1 through
// p1 and s2 through p2, and one output. ctor and the logic are as for
// Unary; both input frontiers are visible (in1.Frontier, in2.Frontier).
func Binary[T frontier.Timestamp[T], D1, D2, E any](
	s1 *dataflow.Stream[T, D1], s2 *dataflow.Stream[T, D2], p1 dataflow.Pact[D1], p2 dataflow.Pact[D2], name string,
	ctor func(c *dataflow.Capability[T], b *dataflow.Builder[T]) func(in1 *dataflow.InPort[T, D1], in2 *dataflow.InPort[T, D2], out *dataflow.OutPort[T, E]),
) *dataflow.Stream[T, E] {
	b := dataflow.NewBuilder(s1.Scope(), name)
	in1 := dataflow.AddInput(b, s1, p1)
	in2 := dataflow.AddInput(b, s2, p2)
	out, stream := dataflow.AddOutput[E](b)
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		logic := ctor(caps[0], b)
		return func() { logic(in1, in2, out) }
	})
	return stream
}

// BinaryNotify is Binary with a Notificator that fires a time once both
// input frontiers have passed it.
func BinaryNotify[T frontier.Timestamp[T], D1, D2, E any](
	s1 *dataflow.Stream[T, D1], s2 *dataflow.Stream[T, D2], p1 dataflow.Pact[D1], p2 dataflow.Pact[D2], name string,
	logic func(in1 *dataflow.InPort[T, D1], in2 *dataflow.InPort[T, D2], out *dataflow.OutPort[T, E], n *Notificator[T]),
) *dataflow.Stream[T, E] {
	return Binary(s1, s2, p1, p2, name, func(c *dataflow.Capability[T], _ *dataflow.Builder[T]) func(*dataflow.InPort[T, D1], *dataflow.InPort[T, D2], *dataflow.OutPort[T, E]) {
		c.Drop()
		var n *Notificator[T]
		return func(in1 *dataflow.InPort[T, D1], in2 *dataflow.InPort[T, D2], out *dataflow.OutPort[T, E]) {
			if n == nil {
				n = NewNotificator(in1.Frontier, in2.Frontier)
			}
			logic(in1, in2, out, n)
		}
	})
}
