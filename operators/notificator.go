package operators

import (
	"slices"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// Notificator holds capabilities at times an operator wants to revisit,
// and hands each back exactly once, in time order, when no input frontier
// it watches is at or before that time any more: no record at the time can
// still arrive, so the operator may finish its work there.
//
// It belongs to one operator instance and its worker's goroutine. It holds
// back the operator's output frontier while it holds capabilities: an
// operator that stops must call Drop.
type Notificator[T frontier.Timestamp[T]] struct {
	frontiers []func() frontier.Antichain[T]
	// pending holds one capability per requested time and output.
	// requested holds the times and outputs of pending and of ready
	// capabilities not yet handed to ForEach's f, so that a request for
	// any of them is merged.
	pending   []*dataflow.Capability[T]
	requested map[request[T]]struct{}
	// checked counts the leading pending entries found not ready against
	// the frontiers in seen; while the frontiers stay equal to seen, only
	// later entries need checking.
	checked int
	seen    []frontier.Antichain[T]
	ready   []*dataflow.Capability[T]
}

// NewNotificator returns a notificator that fires a time once every one of
// frontiers (typically InPort.Frontier of each input) has passed it.
func NewNotificator[T frontier.Timestamp[T]](frontiers ...func() frontier.Antichain[T]) *Notificator[T] {
	return &Notificator[T]{frontiers: frontiers, requested: map[request[T]]struct{}{}, seen: make([]frontier.Antichain[T], len(frontiers))}
}

// request names a notification: a time, for one output's capability.
type request[T frontier.Timestamp[T]] struct {
	time   T
	output int
}

func requestOf[T frontier.Timestamp[T]](c *dataflow.Capability[T]) request[T] {
	return request[T]{c.Time(), c.Output()}
}

// NotifyAt asks to be notified at c's time, taking ownership of c. A
// second request for a time already pending, or ready and not yet handed
// to ForEach's f, with a capability for the same output, is merged into
// the first (its capability is dropped): each time fires once per output
// requested, with that output's capability. A request from f for the time
// f is handling is a new one; make it with c.Delayed(c.Time()), not with
// the capability f was handed, which ForEach drops when f returns.
func (n *Notificator[T]) NotifyAt(c *dataflow.Capability[T]) {
	if _, ok := n.requested[requestOf(c)]; ok {
		c.Drop()
		return
	}
	n.requested[requestOf(c)] = struct{}{}
	n.pending = append(n.pending, c)
}

// Pending returns the number of notifications (times, per output)
// requested and not yet fired: within ForEach's f, that counts the ready
// ones f has not been handed yet.
func (n *Notificator[T]) Pending() int { return len(n.requested) }

// isReady reports whether no watched frontier is at or before t.
func (n *Notificator[T]) isReady(t T) bool {
	for _, f := range n.frontiers {
		if f().LessEqual(t) {
			return false
		}
	}
	return true
}

// ForEach calls f with a capability at each requested time that every
// watched frontier has passed, in time order (Timestamp.Compare; the
// requests of one time by output), then drops it, unless f did: f uses
// it to send at that time, or keeps a later one with Delayed. Times
// requested from within f are considered after the ones already ready.
func (n *Notificator[T]) ForEach(f func(c *dataflow.Capability[T])) {
	for {
		n.takeReady()
		if len(n.ready) == 0 {
			return
		}
		for i := 0; i < len(n.ready); i++ {
			c := n.ready[i]
			if c == nil {
				continue // dropped: f called Drop
			}
			n.ready[i] = nil
			delete(n.requested, requestOf(c))
			f(c)
			if c.Valid() {
				c.Drop()
			}
		}
		n.ready = n.ready[:0]
	}
}

// frontiersChanged reports whether a watched frontier differs from the
// one seen at the last check, and records the current ones.
func (n *Notificator[T]) frontiersChanged() bool {
	changed := false
	for i, f := range n.frontiers {
		if now := f(); !now.Equal(n.seen[i]) {
			n.seen[i].Clear()
			n.seen[i].Extend(now.Elements()...)
			changed = true
		}
	}
	return changed
}

// takeReady moves the ready capabilities from pending to ready, sorted.
// It checks every pending time when a frontier moved, and otherwise only
// those requested since the last check: the cost of an invocation that
// moves no frontier is proportional to its new requests.
func (n *Notificator[T]) takeReady() {
	start := n.checked
	if n.frontiersChanged() {
		start = 0
	}
	kept := n.pending[:start]
	for _, c := range n.pending[start:] {
		if n.isReady(c.Time()) {
			n.ready = append(n.ready, c) // its request stays until it fires
			continue
		}
		kept = append(kept, c)
	}
	clear(n.pending[len(kept):])
	n.pending = kept
	n.checked = len(kept)
	slices.SortFunc(n.ready, func(a, b *dataflow.Capability[T]) int {
		if c := a.Time().Compare(b.Time()); c != 0 {
			return c
		}
		return a.Output() - b.Output()
	})
}

// Drop drops every pending capability, for an operator that shuts down.
// Called from ForEach's f, it drops the ready ones f has not been handed
// yet too: none fires after it.
func (n *Notificator[T]) Drop() {
	for _, c := range n.pending {
		c.Drop()
	}
	for i, c := range n.ready {
		if c != nil {
			c.Drop()
			n.ready[i] = nil
		}
	}
	clear(n.pending)
	n.pending = n.pending[:0]
	n.checked = 0
	clear(n.requested)
}
