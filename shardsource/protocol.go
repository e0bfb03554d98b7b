package shardsource

import (
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
)

// listenEvent is one message from the listen goroutine to the descs
// operator on the chosen worker. The goroutine sends, in order: one
// evAsOf; then any number of (evParts, evProgress) rounds, each evParts at
// the frontier the previous evProgress (or evAsOf) announced; and ends
// either with an evProgress to the empty frontier, or with an evError, after
// which it sends nothing more. The operator may therefore stop draining the
// channel once it has seen either: nothing else can arrive.
type listenEvent[P any] interface{ isListenEvent() }

// evAsOf announces the resolved as_of. It is sent before the snapshot is
// taken (a snapshot waits while upper <= as_of), so that the source's
// frontier moves to as_of at once.
type evAsOf struct {
	asOf frontier.Antichain[frontier.Time]
}

// evParts hands over parts to emit at time ts, each already assigned to the
// worker that will fetch it and carrying the lease that keeps its blob
// alive. The operator takes ownership of every lease.
type evParts[P any] struct {
	ts    frontier.Time
	parts []assignedPart[P]
}

// assignedPart is a part with the worker chosen to fetch it and its lease.
type assignedPart[P any] struct {
	worker int
	part   P
	lease  *lease.Lease
}

// evProgress announces that every part below frontier has been sent.
type evProgress struct {
	frontier frontier.Antichain[frontier.Time]
}

// evError reports a failure of the listen side; it is the last event.
type evError struct{ err error }

func (evAsOf) isListenEvent()     {}
func (evParts[P]) isListenEvent() {}
func (evProgress) isListenEvent() {}
func (evError) isListenEvent()    {}

// releaseEvent releases the leases an event carries. Whoever discards an
// event without handing its leases on calls it.
func releaseEvent[P any](ev listenEvent[P]) {
	if p, ok := ev.(evParts[P]); ok {
		for _, a := range p.parts {
			releaseLease(a.lease)
		}
	}
}
