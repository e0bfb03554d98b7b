package dataflow

import (
	"github.com/shardflow/shardflow/frontier"
)

// Pact says which worker's instance of an operator receives each record of
// an input: Pipeline keeps records on the worker that produced them;
// Exchange sends each to worker hash(record) mod peers.
type Pact[D any] struct {
	hash func(D) uint64
}

// Pipeline returns the pact that keeps records on their worker.
func Pipeline[D any]() Pact[D] { return Pact[D]{} }

// Exchange returns the pact that routes each record d to worker
// hash(d) % peers.
func Exchange[D any](hash func(D) uint64) Pact[D] {
	if hash == nil {
		panic("dataflow: Exchange with a nil hash")
	}
	return Pact[D]{hash: hash}
}

// attach connects in to s through pact.
func attach[T frontier.Timestamp[T], D any](s *Stream[T, D], in *InPort[T, D], pact Pact[D]) {
	src, dst := s.out, in.meta.op
	if src.op.scope != dst.scope {
		panic("dataflow: stream and operator belong to different dataflows")
	}
	loc := target(dst.index, in.meta.port)
	src.meta.targets = append(src.meta.targets, loc)
	w := dst.w
	if pact.hash == nil || w.peers == 1 {
		src.consumers = append(src.consumers, consumer[T, D]{in: in})
		return
	}
	scope := dst.scope
	ex := &exchangeConsumer[T, D]{in: in, hash: pact.hash, channel: len(scope.channels),
		parts: make([][]D, w.peers), counts: make([]int, w.peers)}
	scope.channels = append(scope.channels, func(payload any) { in.enqueue(payload.(Message[T, D])) })
	scope.channelTargets = append(scope.channelTargets, loc)
	src.consumers = append(src.consumers, consumer[T, D]{in: in, ex: ex})
}

type exchangeConsumer[T frontier.Timestamp[T], D any] struct {
	in      *InPort[T, D]
	hash    func(D) uint64
	channel int
	// parts[p] collects the records for worker p during a push; counts[p]
	// is their number.
	parts  [][]D
	counts []int
	// away and dest are scratch space: the records of a batch that leave
	// this worker, and the worker of each record.
	away []D
	dest []uint32
}

// maxRetained bounds the scratch space an exchange keeps between batches.
const maxRetained = 4 * BatchSize

// push sends each record of data to worker hash(d) % peers. The records
// that stay on this worker are compacted in place in data, which push
// owns; every other worker's share is a new slice of exactly its size.
func (x *exchangeConsumer[T, D]) push(t T, data []D) {
	w, scope := x.in.meta.op.w, x.in.meta.op.scope
	dest := x.where(data)
	// Records that stay are compacted in place; the others move to away,
	// their workers to the front of dest. Neither loop calls anything, so
	// the compiler keeps its variables in registers.
	away := x.away[:0]
	if cap(away) < len(data) {
		away = make([]D, 0, len(data))
	}
	away = away[:len(data)]
	self := uint32(w.index)
	k, m := 0, 0
	for i, d := range data {
		if p := dest[i]; p == self {
			data[k] = d
			k++
		} else {
			away[m] = d
			dest[m] = p
			m++
		}
	}
	local, away, dest := data[:k], away[:m], dest[:m]
	clear(data[k:]) // what left is in away
	if len(local) > 0 {
		scope.count(&x.in.meta.counts, t, +1)
		x.in.enqueue(Message[T, D]{Time: t, Data: local})
	}
	if len(away) > 0 {
		x.sendAway(t, away, dest)
	}
	clear(away) // release what the records referenced
	if cap(away) <= maxRetained {
		x.away = away[:0]
	}
}

// where returns the worker of each record of data, in scratch space.
func (x *exchangeConsumer[T, D]) where(data []D) []uint32 {
	dest := x.dest
	if cap(dest) < len(data) {
		dest = make([]uint32, len(data))
		if len(data) <= maxRetained {
			x.dest = dest
		}
	}
	dest = dest[:len(data)]
	hash, peers := x.hash, uint64(x.in.meta.op.w.peers)
	if peers&(peers-1) == 0 { // a power of two: a mask instead of a division
		mask := peers - 1
		for i, d := range data {
			dest[i] = uint32(hash(d) & mask)
		}
		return dest
	}
	for i, d := range data {
		dest[i] = uint32(hash(d) % peers)
	}
	return dest
}

// sendAway sends each record of away to worker dest[i].
func (x *exchangeConsumer[T, D]) sendAway(t T, away []D, dest []uint32) {
	w := x.in.meta.op.w
	if w.peers == 2 {
		x.send(1-w.index, t, append(make([]D, 0, len(away)), away...))
		return
	}
	clear(x.counts)
	for _, p := range dest {
		x.counts[p]++
	}
	for p, n := range x.counts {
		if n > 0 {
			x.parts[p] = make([]D, 0, n)
		}
	}
	for i, d := range away {
		x.parts[dest[i]] = append(x.parts[dest[i]], d)
	}
	for p, part := range x.parts {
		if len(part) > 0 {
			x.parts[p] = nil
			x.send(p, t, part)
		}
	}
}

// send sends a message of data at t to worker p.
func (x *exchangeConsumer[T, D]) send(p int, t T, data []D) {
	op := x.in.meta.op
	w, scope := op.w, op.scope
	scope.count(&x.in.meta.counts, t, +1)
	w.fabric.Send(Envelope{From: w.index, To: p, Kind: DataEnvelope, dataflow: scope.index, shape: scope.shape, channel: x.channel,
		payload: Message[T, D]{Time: t, Data: data}})
}
