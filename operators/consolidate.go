package operators

import (
	"math"
	"math/big"

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
// The sums are exact: a datum whose diffs sum beyond the int64 range is
// emitted as several updates, each of which fits, adding up to the sum.
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
// position in updates. wraps[i], where not zero, counts how often the sum
// of updates[i] wrapped around the int64 range, up (+1) or down (-1): the
// exact sum is updates[i].Diff + wraps[i]*2^64.
type pendingTime[D comparable] struct {
	index   map[D]int
	updates []Update[D]
	wraps   map[int]int64
}

// wrapped records that adding diff to the sum of updates[i] wrapped it
// around, up if diff is positive, down if not.
func (p *pendingTime[D]) wrapped(i int, diff int64) {
	if p.wraps == nil {
		p.wraps = map[int]int64{}
	}
	if diff > 0 {
		p.wraps[i]++
	} else {
		p.wraps[i]--
	}
}

// appendExact appends u, whose sum wrapped w times, as updates of u.Data
// that each fit an int64 and sum to u.Diff + w*2^64.
func appendExact[D any](out []Update[D], u Update[D], w int64) []Update[D] {
	sum := new(big.Int).Lsh(big.NewInt(w), 64)
	sum.Add(sum, big.NewInt(u.Diff))
	for !sum.IsInt64() {
		part := int64(math.MaxInt64)
		if sum.Sign() < 0 {
			part = math.MinInt64
		}
		out = append(out, Update[D]{Data: u.Data, Diff: part})
		sum.Sub(sum, big.NewInt(part))
	}
	if d := sum.Int64(); d != 0 {
		out = append(out, Update[D]{Data: u.Data, Diff: d})
	}
	return out
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
					d := &p.updates[i].Diff
					sum := *d + u.Diff
					if (sum < *d) != (u.Diff < 0) {
						p.wrapped(i, u.Diff)
					}
					*d = sum
					continue
				}
				p.index[u.Data] = len(p.updates)
				p.updates = append(p.updates, u)
			}
		}
		n.ForEach(func(c *dataflow.Capability[T]) {
			p := byTime[c.Time()]
			delete(byTime, c.Time())
			var kept []Update[D]
			if p.wraps == nil {
				kept = p.updates[:0]
				for _, u := range p.updates {
					if u.Diff != 0 {
						kept = append(kept, u)
					}
				}
			} else {
				// Some sum wrapped: it may take more updates than it
				// had, so none is written over in place.
				kept = make([]Update[D], 0, len(p.updates))
				for i, u := range p.updates {
					kept = appendExact(kept, u, p.wraps[i])
				}
			}
			out.Session(c).GiveBatch(kept)
		})
	})
}
