package operators

import (
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// Replay turns recorded events back into a stream of s. Every worker must
// call it with the same sources; worker w replays sources w, w+peers,
// w+2*peers, ... A worker starts holding a capability at the minimum time,
// one count per source it replays, and follows the sources' Progress
// events with its capabilities: the stream's frontier is the replayed
// one, and the stream ends once every replayed history has reached the
// empty frontier. A worker with no source holds nothing.
//
// A source that implements NotifyingSource wakes the operator when events
// arrive; other sources are polled on every step of the worker, so a worker
// replaying them never parks.
func Replay[T frontier.Timestamp[T], D any](s *dataflow.Scope[T], sources []EventSource[T, D]) *dataflow.Stream[T, D] {
	b := dataflow.NewBuilder(s, "Replay")
	out, stream := dataflow.AddOutput[D](b)
	var mine []EventSource[T, D]
	for i := s.Index(); i < len(sources); i += s.Peers() {
		mine = append(mine, sources[i])
	}
	poll := false
	for _, src := range mine {
		if ns, ok := src.(NotifyingSource[T, D]); ok {
			ns.SetWaker(b.SyncActivator().Activate)
		} else {
			poll = true
		}
	}
	act := b.Activator()
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		var counts frontier.MutableAntichain[T]
		var zero T
		counts.Update(zero, int64(len(mine)))
		held := dataflow.NewCapabilitySet(caps[0])
		if len(mine) == 0 {
			held.Drop()
		}
		return func() {
			if held.IsEmpty() {
				return
			}
			changed := false
			for _, src := range mine {
				for {
					e, ok := src.Next()
					if !ok {
						break
					}
					switch e.Kind {
					case MessagesEvent:
						c, ok := held.Get(e.Time)
						if !ok {
							panic("operators: replayed message at a time its progress has passed")
						}
						if c.Time() == e.Time {
							out.Session(c).GiveBatch(e.Data)
							continue
						}
						at := c.Delayed(e.Time)
						out.Session(at).GiveBatch(e.Data)
						at.Drop()
					case ProgressEvent:
						if len(counts.UpdateIter(e.Progress)) > 0 {
							changed = true
						}
					}
				}
			}
			if changed {
				held.Downgrade(counts.Frontier())
			}
			if poll && !held.IsEmpty() {
				act.Activate()
			}
		}
	})
	return stream
}
