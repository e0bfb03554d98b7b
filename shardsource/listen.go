package shardsource

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
)

// shardReader is what the listen goroutine needs of a leased reader: its
// since, a snapshot, a listen, and expiry. The persist adapter implements it;
// tests use fakes.
type shardReader[P any] interface {
	Since() frontier.Antichain[frontier.Time]
	// Snapshot returns the parts that reconstruct the shard at asOf,
	// waiting while the upper is not beyond asOf.
	Snapshot(ctx context.Context, asOf frontier.Time) ([]P, error)
	// Listen starts listening to the batches beyond asOf.
	Listen(ctx context.Context, asOf frontier.Time) (shardListener[P], error)
	// Expire unregisters the reader, releasing its SeqNo hold and since.
	Expire(ctx context.Context) error
}

// shardListener yields the shard's batches in order.
type shardListener[P any] interface {
	// Next waits for the upper to advance and returns the parts of the
	// batches it passed and the new upper.
	Next(ctx context.Context) ([]P, frontier.Antichain[frontier.Time], error)
	Close()
}

// filterDecision is what the listen goroutine does with one part.
type filterDecision int

const (
	decideKeep filterDecision = iota
	decideDiscard
	decideReplace // the part was rewritten into a single row (no fetch)
)

// listenConfig is everything the listen goroutine needs. The functions run on
// the listen goroutine.
type listenConfig[P any] struct {
	// open creates the client and registers the leased reader.
	open func(ctx context.Context) (shardReader[P], error)
	// asOf is the requested as_of; nil means the reader's since.
	asOf *frontier.Antichain[frontier.Time]
	// until: parts are listed only while the upper is not beyond until.
	until frontier.Antichain[frontier.Time]
	// snapshot: list the parts at as_of before the listen's.
	snapshot bool
	// startSignal, if not nil, is awaited after the reader is registered
	// and before as_of is resolved; with unheld, before the reader is
	// opened at all.
	startSignal <-chan struct{}
	// unheld: the reader holds nothing (an unregistered one), so it learns
	// the since when it opens, and opening it before the start signal
	// would resolve as_of to a since from before the signal.
	unheld  bool
	workers int
	size    func(P) uint64
	leaseOf func(P) *lease.Lease
	// filter decides each part's fate; inSnapshot says the part came from
	// the snapshot (its rows at or before readAt are read, advanced to
	// it), and readAt is the time its parts are emitted at: as_of for the
	// snapshot, the source's frontier when the batch arrived otherwise. A
	// replaced part is returned rewritten. Nil keeps every part.
	filter func(p P, inSnapshot bool, readAt frontier.Time) (P, filterDecision)
	// expireTimeout bounds the reader's expiry when the goroutine exits.
	expireTimeout time.Duration
	// log receives a failed expiry, which nothing else would see.
	log *slog.Logger
	// final, if not nil, is set once the last event has been sent and the
	// goroutine only waits to be stopped (a hook for quiescence).
	final *atomic.Bool
}

// panicked is the error of a panic recovered on one of the source's
// goroutines, with the stack where it happened.
func panicked(where string, r any) error {
	return fmt.Errorf("shardsource: panic on the %s goroutine: %v\n%s", where, r, debug.Stack())
}

// runListen is the body of the listen goroutine (see listenEvent for the
// protocol). It returns when ctx is cancelled, which the descs operator does
// once the completed-fetches frontier is empty: every part it listed has been
// fetched, so the reader may go. It expires the reader on its way out and
// releases every lease it still holds (parts listed but never sent).
func runListen[P any](ctx context.Context, cfg listenConfig[P], out chan<- listenEvent[P], activate func()) {
	send := func(ev listenEvent[P]) bool {
		select {
		case out <- ev:
			activate()
			return true
		case <-ctx.Done():
			releaseEvent[P](ev)
			return false
		}
	}
	finish := func() {
		if cfg.final != nil {
			cfg.final.Store(true)
		}
		<-ctx.Done()
	}
	fail := func(err error) {
		if ctx.Err() == nil && send(evError{err: err}) {
			finish()
		}
	}
	// A panic here, in a ClientFunc say, would take the process down from
	// a goroutine nobody can recover on: it fails the source instead. One
	// before the reader opens has nothing to expire; for one after it,
	// see the recover below the expiry.
	defer func() {
		if r := recover(); r != nil {
			fail(panicked("listen", r))
		}
	}()

	started := func() bool {
		if cfg.startSignal == nil {
			return true
		}
		select {
		case <-cfg.startSignal:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if cfg.unheld && !started() {
		return
	}
	reader, err := cfg.open(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer func() {
		expireCtx, cancel := context.WithTimeout(context.Background(), cfg.expireTimeout)
		defer cancel()
		// An expiry that fails leaves the reader to time out on its own
		// lease; nothing more can be done for it here than to say so.
		if err := reader.Expire(expireCtx); err != nil && cfg.log != nil {
			cfg.log.Warn("shardsource: the reader could not be expired; it holds the shard's since and its blobs until its lease runs out", "err", err)
		}
	}()
	// A panic from here on fails the source before the deferred expiry
	// runs: like any other error, it leaves the reader registered until
	// the descs operator cancels, for the fetches of the parts already
	// sent (the recover above runs after the expiry).
	defer func() {
		if r := recover(); r != nil {
			fail(panicked("listen", r))
		}
	}()
	if !cfg.unheld && !started() {
		return
	}
	var asOf frontier.Antichain[frontier.Time]
	if cfg.asOf != nil {
		asOf = cfg.asOf.Clone()
	} else {
		asOf = reader.Since().Clone()
	}
	if !send(evAsOf{asOf: asOf}) {
		return
	}
	current, ok := asOf.Single()
	if !ok || beyondUntil(cfg.until, current) {
		if send(evProgress{frontier: frontier.Antichain[frontier.Time]{}}) {
			finish()
		}
		return
	}

	assign := newAssigner(cfg.workers)
	var pending []assignedPart[P]
	defer func() {
		for _, a := range pending {
			releaseLease(a.lease)
		}
	}()
	// admit filters parts into pending. A Filter that panics fails the
	// source: the leases of the parts not admitted go, and the error is
	// reported with the reader still registered for the fetches of the
	// parts sent before.
	admit := func(parts []P, inSnapshot bool) error {
		for i, p := range parts {
			decision := decideKeep
			if cfg.filter != nil {
				var err error
				if p, decision, err = filterRecovering(cfg.filter, p, inSnapshot, current); err != nil {
					for _, q := range parts[i:] {
						releaseLease(cfg.leaseOf(q))
					}
					return err
				}
			}
			if decision == decideDiscard {
				releaseLease(cfg.leaseOf(p))
				continue
			}
			pending = append(pending, assignedPart[P]{worker: assign.assign(cfg.size(p)), part: p, lease: cfg.leaseOf(p)})
		}
		return nil
	}

	if cfg.snapshot {
		parts, err := reader.Snapshot(ctx, current)
		if err == nil {
			err = admit(parts, true)
		}
		if err != nil {
			fail(err)
			return
		}
	}
	listener, err := reader.Listen(ctx, current)
	if err != nil {
		fail(err)
		return
	}
	defer listener.Close()
	for {
		parts, upper, err := listener.Next(ctx)
		if err == nil {
			err = admit(parts, false)
		}
		if err != nil {
			fail(err)
			return
		}
		next, more := upper.Single()
		if more && next <= current {
			continue // no progress: keep collecting
		}
		if len(pending) > 0 {
			batch := pending
			pending = nil
			if !send(evParts[P]{ts: current, parts: batch}) {
				return
			}
		}
		if !more || beyondUntil(cfg.until, next) {
			break
		}
		if !send(evProgress{frontier: upper.Clone()}) {
			return
		}
		current = next
	}
	if send(evProgress{frontier: frontier.Antichain[frontier.Time]{}}) {
		finish()
	}
}

// filterRecovering calls filter, turning a panic into an error.
func filterRecovering[P any](filter func(P, bool, frontier.Time) (P, filterDecision), p P, inSnapshot bool, at frontier.Time) (out P, d filterDecision, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicked("listen", r)
		}
	}()
	out, d = filter(p, inSnapshot, at)
	return out, d, nil
}

// beyondUntil reports whether nothing at or after t can be wanted: every
// update there is at a time at or beyond until.
func beyondUntil(until frontier.Antichain[frontier.Time], t frontier.Time) bool {
	u, ok := until.Single()
	return ok && u <= t
}

func releaseLease(l *lease.Lease) {
	if l != nil {
		l.Release()
	}
}
