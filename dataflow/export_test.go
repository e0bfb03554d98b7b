package dataflow

import "github.com/shardflow/shardflow/frontier"

// Hooks for the external tests: they let a test recompute frontiers from
// the capabilities and messages that exist, independently of the tracker.

// PointstampForTest is a capability (Source) or an unconsumed message.
type PointstampForTest[T any] struct {
	Op, Port int
	Source   bool
	Time     T
}

// PointstampsForTest lists the live capabilities of s's dataflow on its
// worker and the messages queued at its inputs.
func PointstampsForTest[T frontier.Timestamp[T]](s *Scope[T]) []PointstampForTest[T] {
	var out []PointstampForTest[T]
	for _, l := range s.w.live {
		if c, ok := l.(*Capability[T]); ok && c.op.scope == s {
			out = append(out, PointstampForTest[T]{Op: c.op.index, Port: c.output, Source: true, Time: c.time})
		}
	}
	for _, op := range s.ops {
		for _, in := range op.inputs {
			in.queuedTimes(func(t T) {
				out = append(out, PointstampForTest[T]{Op: op.index, Port: in.port, Time: t})
			})
		}
	}
	return out
}

// EnvelopePointstampForTest returns the input port and time of a data
// envelope of s's dataflow.
func EnvelopePointstampForTest[T frontier.Timestamp[T]](s *Scope[T], e Envelope) (PointstampForTest[T], bool) {
	if e.Kind != DataEnvelope || e.dataflow != s.index {
		return PointstampForTest[T]{}, false
	}
	l := s.channelTargets[e.channel]
	t := e.payload.(interface{ messageTime() any }).messageTime().(T)
	return PointstampForTest[T]{Op: int(l.op), Port: int(l.port), Time: t}, true
}

// FrontierForTest returns the tracker's frontier at input (op, port).
func FrontierForTest[T frontier.Timestamp[T]](s *Scope[T], op, port int) frontier.Antichain[T] {
	return s.tracker.frontier(op, port).Frontier().Clone()
}

// ReceiveForTest takes in delivered envelopes and propagates progress
// without running any operator.
func (w *Worker) ReceiveForTest() {
	w.receive()
	for _, df := range w.dataflows {
		df.propagate()
	}
}

// SyncQueuedForTest returns the number of activations from other goroutines
// waiting for w's next step.
func SyncQueuedForTest(w *Worker) int {
	w.sync.mu.Lock()
	defer w.sync.mu.Unlock()
	return len(w.sync.mu.ops)
}

// SharedCountForTest returns how many values w's group holds for Shared.
func SharedCountForTest(w *Worker) int {
	w.group.mu.Lock()
	defer w.group.mu.Unlock()
	return len(w.group.shared)
}

// EarlyForTest returns how many envelopes w keeps for dataflows it has not
// built yet or is building.
func EarlyForTest(w *Worker) int {
	n := 0
	for _, es := range w.early {
		n += len(es)
	}
	return n
}
