package operators

import (
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// Update is a record of an update stream: Data's multiplicity changes by
// Diff at the time of the message that carries it.
type Update[D any] struct {
	Data D
	Diff int64
}

// Consolidate sums the diffs of equal data at equal times and drops those
// that sum to zero. The updates of a time are emitted together, at that
// time, once s's frontier has passed it, in the order each datum was first
// seen at that time on this worker. Consolidation is per worker: exchange
// by a hash of the data first (ConsolidateExchange) for a global result.
//
// Data are compared with ==; consolidate by a derived key by mapping to it
// first.
func Consolidate[T frontier.Timestamp[T], D comparable](s *dataflow.Stream[T, Update[D]]) *dataflow.Stream[T, Update[D]] {
	return consolidate(s, dataflow.Pipeline[Update[D]]())
}

// ConsolidateExchange is Consolidate after routing each update to worker
// hash(data) % peers, so that equal data meet on one worker.
func ConsolidateExchange[T frontier.Timestamp[T], D comparable](s *dataflow.Stream[T, Update[D]], hash func(D) uint64) *dataflow.Stream[T, Update[D]] {
	return consolidate(s, dataflow.Exchange(func(u Update[D]) uint64 { return hash(u.Data) }))
}

// pendingTime accumulates the updates of one time: index[d] is d's
// position in updates.
type pendingTime[D comparable] struct {
	index   map[D]int
	updates []Update[D]
}

func consolidate[T frontier.Timestamp[T], D comparable](s *dataflow.Stream[T, Update[D]], pact dataflow.Pact[Update[D]]) *dataflow.Stream[T, Update[D]] {
	byTime := map[T]*pendingTime[D]{}
	return UnaryNotify(s, pact, "Consolidate", func(in *dataflow.InPort[T, Update[D]], out *dataflow.OutPort[T, Update[D]], n *Notificator[T]) {
		for {
			ref, data, ok := in.Next()
			if !ok {
				break
			}
			p := byTime[ref.Time()]
			if p == nil {
				p = &pendingTime[D]{index: map[D]int{}}
				byTime[ref.Time()] = p
				n.NotifyAt(ref.Retain())
			}
			for _, u := range data {
				if i, ok := p.index[u.Data]; ok {
					p.updates[i].Diff += u.Diff
					continue
				}
				p.index[u.Data] = len(p.updates)
				p.updates = append(p.updates, u)
			}
		}
		n.ForEach(func(c *dataflow.Capability[T]) {
			p := byTime[c.Time()]
			delete(byTime, c.Time())
			kept := p.updates[:0]
			for _, u := range p.updates {
				if u.Diff != 0 {
					kept = append(kept, u)
				}
			}
			out.Session(c).GiveBatch(kept)
		})
	})
}
