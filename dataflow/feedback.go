package dataflow

import (
	"github.com/shardflow/shardflow/frontier"
)

// LoopHandle is the far end of a feedback edge, connected once the stream
// that feeds it has been built.
type LoopHandle[T frontier.Timestamp[T], D any] struct {
	in        *InPort[T, D]
	connected bool
}

// Feedback creates a feedback edge: a stream, usable at once as the input of
// earlier operators, whose records are those of the stream later passed to
// Connect, with their times advanced by summary, which must strictly
// advance time, or kept as they are if summary is nil. Connect must be
// called before the dataflow is built.
//
// A cycle must advance time, except through an input that is disconnected
// from its operator's outputs (Builder.SetConnection): an edge with a nil
// summary is refused (ErrCycle) unless every way back from it passes such
// an input. It suits a stream read only for its frontier, such as the
// completed work an earlier operator waits on: times pass through it
// unchanged, up to the largest, where an advancing summary would overflow
// and drop them.
func Feedback[D any, T frontier.Timestamp[T]](s *Scope[T], summary Summary[T]) (*LoopHandle[T, D], *Stream[T, D]) {
	b := NewBuilder(s, "feedback")
	in := addInputPort[T, D](b)
	out, stream := AddOutput[D](b)
	b.setSummary(0, 0, summary)
	b.SetNotify(0, false)
	l := &LoopHandle[T, D]{in: in}
	s.loops = append(s.loops, loopCheck{
		name:      "feedback",
		connected: func() bool { return l.connected },
		advances: func() bool {
			if summary == nil {
				return true // the identity: the graph's cycle check decides
			}
			var zero T
			r, ok := summary.Apply(zero)
			return !ok || frontier.LessThan(zero, r)
		},
	})
	b.Build(func(caps []*Capability[T]) func() {
		caps[0].Drop()
		return func() {
			in.ForEach(func(ref CapabilityRef[T], data []D) {
				t, ok := ref.Time(), true
				if summary != nil {
					t, ok = applyStrict(summary, t)
				}
				if !ok {
					return
				}
				c := ref.Delayed(t)
				out.Session(c).GiveBatch(data)
				c.Drop()
			})
		}
	})
	return l, stream
}

// Connect makes stream the source of the feedback edge. It panics if called
// twice.
func (l *LoopHandle[T, D]) Connect(stream *Stream[T, D]) {
	if l.connected {
		panic("dataflow: feedback edge connected twice")
	}
	if stream.out.op.scope.tracker != nil {
		panic("dataflow: Connect after the dataflow was built")
	}
	l.connected = true
	attach(stream, l.in, Pipeline[D]())
}
