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
	// dest is scratch space for the worker of each record of a batch.
	dest []uint32
}

// maxRetainedDest bounds the scratch space an exchange keeps between
// batches; a larger batch uses a temporary one.
const maxRetainedDest = 4 * BatchSize

// push sends each record of data to worker hash(d) % peers. The records
// that stay on this worker are compacted in place in data, which push
// owns; every other worker's share is a new slice of exactly its size.
func (x *exchangeConsumer[T, D]) push(t T, data []D) {
	op := x.in.meta.op
	w, scope := op.w, op.scope
	peers := uint64(w.peers)
	dest := x.dest
	if cap(dest) < len(data) {
		dest = make([]uint32, len(data))
		if len(data) <= maxRetainedDest {
			x.dest = dest
		}
	}
	dest = dest[:len(data)]
	clear(x.counts)
	for i, d := range data {
		p := uint32(x.hash(d) % peers)
		dest[i] = p
		x.counts[p]++
	}
	for p, n := range x.counts {
		if p != w.index && n > 0 {
			x.parts[p] = make([]D, 0, n)
		}
	}
	local := data[:0]
	for i, d := range data {
		if p := int(dest[i]); p != w.index {
			x.parts[p] = append(x.parts[p], d)
		} else {
			local = append(local, d)
		}
	}
	clear(data[len(local):]) // what left for other workers is theirs
	for p := range x.parts {
		part := x.parts[p]
		if p == w.index {
			part = local
		}
		if len(part) == 0 {
			continue
		}
		x.parts[p] = nil
		scope.count(&x.in.meta.counts, t, +1)
		m := Message[T, D]{Time: t, Data: part}
		if p == w.index {
			x.in.enqueue(m)
			continue
		}
		w.fabric.Send(Envelope{From: w.index, To: p, Kind: DataEnvelope, dataflow: scope.index, channel: x.channel, payload: m})
	}
}
