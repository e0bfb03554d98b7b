package shardsource

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
	"github.com/shardflow/shardflow/persist"
)

// listedPart is what the listen goroutine hands the descs operator: a leased
// part, or the single row a Filter replaced it with.
type listedPart struct {
	leased      persist.LeasedPart
	replacement *Row
}

// persistReader adapts a persist.ReadHandle to shardReader. It heartbeats the
// reader from a goroutine of its own while the listen waits, and moves the
// reader's since up behind the listen's progress, to the frontier before
// the last one (after the parts below it are leased, which Listen.Next does
// before returning them), so compaction can follow the source without
// merging into the batch the listen reads next.
type persistReader struct {
	r             *persist.ReadHandle
	stopHeartbeat context.CancelFunc
	heartbeatDone chan struct{}
}

// openPersistReader opens the source's reader of shard and starts its
// heartbeat; an unregistered reader (Options.Unregistered) has no lease to
// renew, and gets no heartbeat.
func openPersistReader(ctx context.Context, client ClientFunc, shard persist.ShardID, purpose string, unregistered bool, heartbeat time.Duration, retry ListenRetry, log *slog.Logger) (*persistReader, error) {
	c, err := client(ctx)
	if err != nil {
		return nil, err
	}
	var r *persist.ReadHandle
	if unregistered {
		r, err = c.OpenUnregisteredReader(ctx, shard)
	} else {
		r, err = c.OpenReader(ctx, shard, purpose)
	}
	if err != nil {
		return nil, err
	}
	r.SetPollBackoff(retry.Initial, retry.Max)
	pr := &persistReader{r: r, stopHeartbeat: func() {}, heartbeatDone: make(chan struct{})}
	if unregistered {
		close(pr.heartbeatDone)
		return pr, nil
	}
	// Whatever the option says, heartbeat a few times within the lease:
	// with the default minute and a client lease under two, the reader
	// would expire while the source waits for writes.
	heartbeat = max(min(heartbeat, r.LeaseDuration()/3), time.Millisecond)
	hctx, cancel := context.WithCancel(context.Background())
	pr.stopHeartbeat = cancel
	go func() {
		defer close(pr.heartbeatDone)
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				// A failed heartbeat is retried at the next tick. An
				// expired reader fails the listen's next read, which
				// reports it; heartbeating it again cannot succeed.
				err := r.Heartbeat(hctx)
				switch {
				case err == nil || hctx.Err() != nil:
				case errors.Is(err, persist.ErrReaderExpired):
					log.Error("shardsource: the reader expired; heartbeats stop", "err", err)
					return
				default:
					log.Warn("shardsource: reader heartbeat failed; it is tried again at the next one", "err", err)
				}
			}
		}
	}()
	return pr, nil
}

func (p *persistReader) Since() frontier.Antichain[frontier.Time] { return p.r.Since() }

func (p *persistReader) Snapshot(ctx context.Context, asOf frontier.Time) ([]listedPart, error) {
	parts, err := p.r.Snapshot(ctx, asOf)
	if err != nil {
		return nil, err
	}
	return listed(nil, parts), nil
}

func (p *persistReader) Listen(ctx context.Context, asOf frontier.Time) (shardListener[listedPart], error) {
	l, err := p.r.Listen(ctx, asOf)
	if err != nil {
		return nil, err
	}
	return &persistListener{r: p.r, l: l, at: frontier.From(asOf)}, nil
}

// Expire stops the heartbeat and unregisters the reader.
func (p *persistReader) Expire(ctx context.Context) error {
	p.stopHeartbeat()
	<-p.heartbeatDone
	return p.r.Expire(ctx)
}

type persistListener struct {
	r *persist.ReadHandle
	l *persist.Listen
	// since is where the reader's since has yet to move: the listen's
	// frontier before its last progress, not the progress itself. A
	// merge advances the rows behind the shard's since to it, and joins
	// batches the listen has yielded with those it has not; with the
	// since at the listen's frontier, rows it had yielded would come
	// back at that frontier, like new ones (persist's Listen refuses such
	// a batch). One batch behind, they land where the listen no longer
	// looks. Next moves the since at its start, not before returning the
	// batch that brought it: the compare-and-set stays off the path from
	// a batch to its fetches, and holding the since back that much longer
	// is safe (the batch's parts are leased already).
	since frontier.Antichain[frontier.Time]
	// at is the listen's frontier: its as-of, then its last progress.
	at frontier.Antichain[frontier.Time]
}

// Next gathers the parts of the next batch and the progress after it.
func (p *persistListener) Next(ctx context.Context) ([]listedPart, frontier.Antichain[frontier.Time], error) {
	if !p.since.IsEmpty() {
		if err := p.r.DowngradeSince(ctx, p.since); err != nil {
			return nil, frontier.Antichain[frontier.Time]{}, err
		}
		p.since = frontier.Antichain[frontier.Time]{}
	}
	var parts []listedPart
	for {
		ev, err := p.l.Next(ctx)
		if errors.Is(err, io.EOF) {
			return parts, frontier.Antichain[frontier.Time]{}, nil
		}
		if err != nil {
			releaseListed(parts)
			return nil, frontier.Antichain[frontier.Time]{}, err
		}
		switch ev.Kind {
		case persist.ListenParts:
			parts = listed(parts, ev.Parts)
		case persist.ListenProgress:
			p.since, p.at = p.at, ev.Upper.Clone()
			return parts, ev.Upper, nil
		}
	}
}

func (p *persistListener) Close() { p.l.Close() }

func listed(dst []listedPart, parts []persist.LeasedPart) []listedPart {
	for _, lp := range parts {
		dst = append(dst, listedPart{leased: lp})
	}
	return dst
}

func releaseListed(parts []listedPart) {
	for _, p := range parts {
		releaseLease(p.leased.Lease)
	}
}

// persistListenConfig fills the part-specific functions of a listenConfig
// for persist parts and the user's Filter.
func persistListenConfig(cfg listenConfig[listedPart], filter Filter) listenConfig[listedPart] {
	cfg.size = func(p listedPart) uint64 {
		if p.replacement != nil {
			return 0
		}
		return uint64(max(p.leased.Desc.Bytes, 0))
	}
	cfg.leaseOf = func(p listedPart) *lease.Lease { return p.leased.Lease }
	if filter == nil {
		return cfg
	}
	cfg.filter = func(p listedPart, inSnapshot bool, readAt frontier.Time) (listedPart, filterDecision) {
		if !p.leased.Desc.FormatKnown() {
			// Its statistics may mean something else: fetch it, which
			// fails with persist.ErrUnknownPartFormat rather than lose it.
			return p, decideKeep
		}
		res := filter(p.leased.Desc, frontier.From(readAt))
		switch res.kind {
		case decideDiscard:
			return p, decideDiscard
		case decideReplace:
			// Only a snapshot part (readAt is then as_of) wholly at or
			// before as_of reads every row at as_of, so only then does
			// one row with the diffs' sum stand for it exactly.
			// Nor can one row carry a sum beyond the int64 range.
			if !inSnapshot || p.leased.Desc.MaxTime > readAt || !p.leased.Desc.DiffsSumExact() {
				return p, decideKeep
			}
			if p.leased.Desc.DiffsSum == 0 {
				return p, decideDiscard // its rows cancel out: no row stands for them
			}
			releaseLease(p.leased.Lease)
			p.leased.Lease = nil
			p.replacement = &Row{Key: res.key, Val: res.val, Time: readAt, Diff: p.leased.Desc.DiffsSum}
			return p, decideReplace
		}
		return p, decideKeep
	}
	return cfg
}

// clientOnce calls a ClientFunc until it succeeds and then keeps its
// client. One call runs at a time; the others wait for it, or for their
// own context: a slow ClientFunc (a connect retrying) called for one
// worker's fetch must not hold up another worker's goroutines once their
// fetches are cancelled.
type clientOnce struct {
	fn ClientFunc
	mu struct {
		sync.Mutex
		c       *persist.Client
		running chan struct{} // closed when the call under way returns; nil if none
	}
}

func (o *clientOnce) get(ctx context.Context) (*persist.Client, error) {
	for {
		o.mu.Lock()
		if c := o.mu.c; c != nil {
			o.mu.Unlock()
			return c, nil
		}
		if wait := o.mu.running; wait != nil {
			o.mu.Unlock()
			select {
			case <-wait: // take its client, or call fn if it failed
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		o.mu.running = done
		o.mu.Unlock()
		return o.call(ctx, done)
	}
}

// call runs fn, keeps its client if it succeeds, and lets the waiters go
// however it ends: a panic (which the caller's fetchRecovering turns into
// its fetch's error) leaves no client, so the next get calls fn again.
func (o *clientOnce) call(ctx context.Context, done chan struct{}) (c *persist.Client, err error) {
	ok := false
	defer func() {
		o.mu.Lock()
		o.mu.running = nil
		if ok && err == nil {
			o.mu.c = c
		}
		o.mu.Unlock()
		close(done)
	}()
	c, err = o.fn(ctx)
	ok = true
	return c, err
}
