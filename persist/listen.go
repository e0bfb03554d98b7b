package persist

import (
	"context"
	"io"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/state"
)

// ListenEventKind tells the kinds of ListenEvent apart.
type ListenEventKind int

const (
	// ListenParts: the parts of the batch [Lower, Upper), each leased. A
	// Progress to Upper follows.
	ListenParts ListenEventKind = iota + 1
	// ListenProgress: every update at a time not beyond Upper has been
	// yielded.
	ListenProgress
)

// ListenEvent is one step of a Listen.
type ListenEvent struct {
	Kind         ListenEventKind
	Lower, Upper Frontier
	Parts        []LeasedPart // ListenParts only
}

// Listen yields, in order of time, the batches of a shard beyond an as-of
// and the progress between them. It belongs to one goroutine. Its reader's
// since must stay behind its frontier (see ReadHandle.DowngradeSince): a
// batch that compaction advanced to the listen's frontier or beyond is a
// *SinceAdvancedError, never rows yielded twice or at moved times.
type Listen struct {
	r        *ReadHandle
	asOf     frontier.Time
	frontier Frontier // every update before it has been yielded
	pending  *ListenEvent
	w        *waiter
}

// Listen starts a listen of the updates at times beyond asOf; it begins at
// the frontier [asOf]. An asOf before the reader's since is a
// *SinceAdvancedError.
func (r *ReadHandle) Listen(ctx context.Context, asOf frontier.Time) (*Listen, error) {
	if _, err := r.read(ctx, asOf, true, func(state.State) bool { return true }); err != nil {
		return nil, err
	}
	return &Listen{r: r, asOf: asOf, frontier: frontier.From(asOf), w: r.newWaiter(ctx)}, nil
}

// Frontier returns the listen's frontier: every update at a time before it
// has been yielded.
func (l *Listen) Frontier() Frontier { return l.frontier.Clone() }

// Next returns the next event, waiting for a write if there is none yet. A
// write through the same Client wakes it at once; otherwise it polls with
// capped exponential backoff (and wakes on consensus notifications where the
// backend has them). After the progress to the empty frontier (the shard was
// closed) it returns io.EOF.
func (l *Listen) Next(ctx context.Context) (ListenEvent, error) {
	if l.pending != nil {
		ev := *l.pending
		l.pending = nil
		return ev, nil
	}
	if l.frontier.IsEmpty() {
		return ListenEvent{}, io.EOF
	}
	for {
		notify := l.r.m.watch()
		token := l.r.beginRead()
		s, err := l.r.read(ctx, l.asOf, false, func(s state.State) bool {
			_, ok := s.ListenBatch(l.frontier)
			return ok
		})
		if err == nil && l.r.unregistered {
			err = l.checkSince(s)
		}
		if err != nil {
			l.r.endRead(token)
			return ListenEvent{}, err
		}
		b, ok := s.ListenBatch(l.frontier)
		if !ok {
			l.r.endRead(token)
			if err := l.w.wait(ctx, notify); err != nil {
				return ListenEvent{}, err
			}
			continue
		}
		if err := l.checkAdvanced(b); err != nil {
			l.r.endRead(token)
			return ListenEvent{}, err
		}
		// New data: the writer is active again, so poll at the shortest
		// interval rather than where an idle stretch left the backoff.
		l.w.delay = l.w.min
		lower := l.frontier
		l.frontier = b.Upper.Clone()
		progress := ListenEvent{Kind: ListenProgress, Upper: b.Upper.Clone()}
		parts := l.r.leasedParts(nil, b, FetchFilter{Mode: ListenRead, AsOf: l.asOf, Lower: lower.Clone(), ReaderID: l.r.id})
		l.r.lease(token, s, parts)
		if len(parts) == 0 {
			return progress, nil
		}
		l.pending = &progress
		return ListenEvent{Kind: ListenParts, Lower: lower, Upper: b.Upper.Clone(), Parts: parts}, nil
	}
}

// checkAdvanced refuses a batch whose rows compaction may have advanced to
// where the listen would yield them wrongly: a merge advances the rows
// before the shard's since to it, and a batch with a since beyond the
// as-of, at or beyond the listen's frontier and beyond its own lower may
// hold rows the listen has yielded already (or the snapshot had), now at a
// time it would yield again, and rows moved from a time it is still to
// yield. Holding the since behind the listen's frontier (see
// ReadHandle.DowngradeSince) keeps every batch clear of this.
func (l *Listen) checkAdvanced(b state.Batch) error {
	since, ok := b.Since.Single()
	if !ok {
		return nil // never compacted: every row is at its own time
	}
	at, ok := l.frontier.Single()
	lower, lok := b.Lower.Single()
	if !ok || !lok || since <= l.asOf || since < at || since <= lower {
		return nil
	}
	return &SinceAdvancedError{AsOf: l.asOf, Since: b.Since.Clone()}
}

// Close stops the listen. Parts already yielded keep their leases until
// released.
func (l *Listen) Close() { l.w.close() }
