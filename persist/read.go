package persist

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
)

// ReadHandle is a leased reader of one shard. While registered it holds the
// shard's since at or before its own (so compaction keeps what it can still
// read) and a seqno hold at or before every state version it handed out
// parts from (so GC keeps their blobs). It must heartbeat (Heartbeat or
// DowngradeSince) within the lease duration or it is expired and its holds
// dropped. An unregistered reader (OpenUnregisteredReader) reads the same
// way and holds nothing. It is safe for concurrent use.
type ReadHandle struct {
	c       *Client
	m       *machine
	id      string // "" if unregistered
	purpose string
	// unregistered: the reader is in no state, and writes none (see
	// OpenUnregisteredReader).
	unregistered bool
	// pollMin and pollMax bound the backoff of reads that poll for new
	// state; the client's ListenPollMin/Max unless SetPollBackoff changed
	// them.
	pollMin, pollMax time.Duration

	mu struct {
		sync.Mutex
		since   Frontier
		leases  []*lease.Lease // one per state version parts were handed out from
		lastSeq location.SeqNo // newest state version read
		// pending holds, per read in flight (between reading state and
		// leasing its parts), a seqno no newer than the version it reads.
		pending  map[int]location.SeqNo
		nextRead int
		expired  bool
	}
}

// OpenReader registers a leased reader of shard, at the shard's current
// since and state version. A shard with no state yet is created, empty
// (see the package doc): check Client.State first where a missing shard
// is an error.
func (c *Client) OpenReader(ctx context.Context, shard ShardID, purpose string) (*ReadHandle, error) {
	m, err := c.machine(shard)
	if err != nil {
		return nil, err
	}
	r := &ReadHandle{c: c, m: m, id: "r-" + randomID(), purpose: purpose,
		pollMin: c.opts.ListenPollMin, pollMax: c.opts.ListenPollMax}
	var reg state.Reader
	_, err = m.apply(ctx, func(s state.State) (state.State, bool, error) {
		if existing, ok := s.Reader(r.id); ok {
			reg = existing
			return s, false, nil
		}
		next, rd := s.RegisterReader(r.id, purpose, c.nowMs(), c.opts.LeaseDuration.Milliseconds())
		reg = rd
		return next, true, nil
	})
	if err != nil {
		return nil, err
	}
	r.mu.since = reg.Since.Clone()
	r.mu.lastSeq = reg.SeqNoHold
	return r, nil
}

// ID returns the reader's id as recorded in state, or "" if it is
// unregistered.
func (r *ReadHandle) ID() string { return r.id }

// Shard returns the shard read.
func (r *ReadHandle) Shard() ShardID { return r.m.shard }

// LeaseDuration is how long a registered reader stays registered without a
// heartbeat: its client's ClientOptions.LeaseDuration. A reader that
// heartbeats must do so well within it; an unregistered one holds no lease.
func (r *ReadHandle) LeaseDuration() time.Duration { return r.c.opts.LeaseDuration }

// Since returns the reader's since.
func (r *ReadHandle) Since() Frontier {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.since.Clone()
}

// SeqNoHold returns the seqno this reader would hold if it heartbeat now:
// the oldest version with a live leased part, or the newest version it read.
// An unregistered reader holds nothing: for it, this is only what it would
// hold.
func (r *ReadHandle) SeqNoHold() location.SeqNo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.holdLocked()
}

// holdLocked is the seqno the reader may hold: the oldest version it has
// live leased parts from or a read in flight at, and otherwise the newest
// version this client has seen (it needs nothing older).
func (r *ReadHandle) holdLocked() location.SeqNo {
	hold := max(r.mu.lastSeq, r.m.cached().SeqNo)
	for _, p := range r.mu.pending {
		hold = min(hold, p)
	}
	live := r.mu.leases[:0]
	for _, l := range r.mu.leases {
		if !l.Released() {
			hold = min(hold, l.SeqNo())
			live = append(live, l)
		}
	}
	clear(r.mu.leases[len(live):])
	r.mu.leases = live
	return hold
}

// Heartbeat renews the reader's lease and moves its seqno hold forward to
// the oldest version it still has leased parts from. It returns
// ErrReaderExpired if the reader is gone.
func (r *ReadHandle) Heartbeat(ctx context.Context) error {
	return r.update(ctx, func(s state.State, hold location.SeqNo) (state.State, bool) {
		return s.HeartbeatReader(r.id, hold, r.c.nowMs())
	})
}

// DowngradeSince promises the reader will not read at times before since,
// which lets the shard since (the meet of the readers' sinces) advance and
// compaction merge what is behind it. It also heartbeats. A since before the
// reader's current one is ignored (sinces never regress).
//
// A Listen needs more: its frontier must stay beyond the since. Merges
// advance the rows behind the since to it and may join the batches a
// listen has yielded with those it has not; with the since at the listen's
// frontier, yielded rows would come back there, looking new (the Listen
// refuses such a batch with a *SinceAdvancedError). Move the since to the
// frontier the listen had before its last progress, not to the progress.
func (r *ReadHandle) DowngradeSince(ctx context.Context, since Frontier) error {
	err := r.update(ctx, func(s state.State, hold location.SeqNo) (state.State, bool) {
		return s.DowngradeSince(r.id, since, hold, r.c.nowMs())
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	if frontier.LessEqual(r.mu.since, since) {
		r.mu.since = since.Clone()
	}
	r.mu.Unlock()
	return nil
}

// Expire unregisters the reader, dropping its holds. Leased parts already
// handed out may then be garbage collected; fetching them fails with a
// *BlobMissingError saying the reader had expired.
func (r *ReadHandle) Expire(ctx context.Context) error {
	if r.unregistered {
		r.mu.Lock()
		r.mu.expired = true
		r.mu.Unlock()
		return nil
	}
	_, err := r.m.apply(ctx, func(s state.State) (state.State, bool, error) {
		n, changed := s.ExpireReader(r.id)
		return n, changed, nil
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.mu.expired = true
	r.mu.Unlock()
	return nil
}

func (r *ReadHandle) update(ctx context.Context, fn func(state.State, location.SeqNo) (state.State, bool)) error {
	r.mu.Lock()
	if r.mu.expired {
		r.mu.Unlock()
		return r.expiredErr()
	}
	hold := r.holdLocked()
	r.mu.Unlock()
	if r.unregistered {
		return nil // nothing registered to renew or move
	}
	gone := false
	_, err := r.m.apply(ctx, func(s state.State) (state.State, bool, error) {
		n, ok := fn(s, hold)
		gone = !ok
		return n, ok, nil
	})
	if err != nil {
		return err
	}
	if gone {
		r.mu.Lock()
		r.mu.expired = true
		r.mu.Unlock()
		return r.expiredErr()
	}
	return nil
}

func (r *ReadHandle) expiredErr() error {
	if r.unregistered {
		return fmt.Errorf("%w: unregistered reader of shard %s", ErrReaderExpired, r.m.shard)
	}
	return fmt.Errorf("%w: %s of shard %s", ErrReaderExpired, r.id, r.m.shard)
}

// read returns the newest state, checking the reader is still registered
// and, if checkSince, that asOf is not before its since.
//
// Every read is bracketed by beginRead and lease (or endRead): while it is
// in flight the reader's hold cannot pass the version it reads.
//
// The newest state this client has seen (its own writes and reads keep it
// current) is used instead of a consensus read when enough says it holds
// what the caller needs: a newer version could only add to it. A version
// read is never older than the hold beginRead pinned, which was taken from
// the same cache. It is not used once the reader's lease, as the cache
// records it, is half over: by then another client's GC may have expired
// the reader, and the parts of a cached version deleted.
func (r *ReadHandle) read(ctx context.Context, asOf frontier.Time, checkSince bool, enough func(state.State) bool) (state.State, error) {
	s := r.m.cached()
	if !s.Exists() || enough == nil || !enough(s) || r.leaseMayHaveLapsed(s) {
		var err error
		if s, err = r.m.head(ctx); err != nil {
			return state.State{}, err
		}
	}
	if r.unregistered {
		return s, r.checkUnregistered(s, asOf, checkSince)
	}
	rd, ok := s.Reader(r.id)
	if !ok {
		r.mu.Lock()
		r.mu.expired = true
		r.mu.Unlock()
		return state.State{}, r.expiredErr()
	}
	if checkSince && !rd.Since.LessEqual(asOf) {
		return state.State{}, &SinceAdvancedError{AsOf: asOf, Since: rd.Since.Clone()}
	}
	return s, nil
}

// leaseMayHaveLapsed reports whether, by s and this client's clock, half
// the reader's lease has passed since its last heartbeat. Half leaves the
// other half for the clocks of the clients whose GC expires readers to be
// ahead of this one's.
func (r *ReadHandle) leaseMayHaveLapsed(s state.State) bool {
	if r.unregistered {
		return false
	}
	rd, ok := s.Reader(r.id)
	return ok && rd.LeaseDurationMs > 0 && rd.LastHeartbeatMs+rd.LeaseDurationMs/2 < r.c.nowMs()
}

// beginRead pins the reader's hold at or before any version read from now
// until endRead or lease with the returned token.
func (r *ReadHandle) beginRead() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.pending == nil {
		r.mu.pending = map[int]location.SeqNo{}
	}
	r.mu.nextRead++
	// Consensus is linearizable: the head read next is at least the newest
	// version this client has seen.
	r.mu.pending[r.mu.nextRead] = r.m.cached().SeqNo
	return r.mu.nextRead
}

func (r *ReadHandle) endRead(token int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.mu.pending, token)
}

// lease puts a lease on the version s on every part (one clone each) and
// ends the read token; the reader tracks the lease until every clone is
// released.
func (r *ReadHandle) lease(token int, s state.State, parts []LeasedPart) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.mu.pending, token)
	r.mu.lastSeq = max(r.mu.lastSeq, s.SeqNo)
	if len(parts) == 0 {
		return
	}
	l := lease.New(s.SeqNo)
	for i := range parts {
		parts[i].Lease = l.Clone()
	}
	r.mu.leases = append(r.mu.leases, l)
	l.Release()
	r.holdLocked() // prunes released leases, so the list stays small
}

// leasedParts turns the parts of a batch that may match the filter into
// LeasedParts (without leases yet).
func (r *ReadHandle) leasedParts(dst []LeasedPart, b state.Batch, f FetchFilter) []LeasedPart {
	for _, p := range b.Parts {
		d := partDesc(p, b)
		if !p.Format.Known() || f.mayMatch(d) {
			dst = append(dst, LeasedPart{Shard: r.m.shard, Desc: d, Filter: f})
		}
	}
	return dst
}

// Snapshot returns the parts that together hold the shard's contents at
// asOf, each with a lease. It waits while the upper has not passed asOf
// (the contents at asOf are not complete yet). An asOf before the reader's
// since is a *SinceAdvancedError.
func (r *ReadHandle) Snapshot(ctx context.Context, asOf frontier.Time) ([]LeasedPart, error) {
	w := r.newWaiter(ctx)
	defer w.close()
	for {
		notify := r.m.watch()
		token := r.beginRead()
		s, err := r.read(ctx, asOf, true, func(s state.State) bool {
			_, ready, err := s.SnapshotBatches(asOf)
			return ready && err == nil
		})
		if err != nil {
			r.endRead(token)
			return nil, err
		}
		batches, ready, err := s.SnapshotBatches(asOf)
		if err != nil || !ready {
			r.endRead(token)
		}
		if err != nil {
			return nil, err
		}
		if ready {
			f := FetchFilter{Mode: SnapshotRead, AsOf: asOf, ReaderID: r.id}
			var parts []LeasedPart
			for _, b := range batches {
				parts = r.leasedParts(parts, b, f)
			}
			r.lease(token, s, parts)
			return parts, nil
		}
		if err := w.wait(ctx, notify); err != nil {
			return nil, err
		}
	}
}

// SetPollBackoff bounds the capped exponential backoff with which this
// reader's Snapshot and Listen poll for new state when nothing wakes them:
// they first wait lo, doubling up to hi, and return to lo when they find
// data or are woken. A zero or negative argument keeps the current bound,
// moved if need be to let the other one stand, as in ClientOptions: hi
// alone below the current lo lowers lo to it, lo alone above the current
// hi raises hi to it; given both, a hi below lo is raised to it. Set it
// before reading: it is not synchronized with reads in flight.
func (r *ReadHandle) SetPollBackoff(lo, hi time.Duration) {
	r.pollMin, r.pollMax = pollBounds(r.pollMin, r.pollMax, lo, hi)
}

// pollBounds returns the bounds curMin..curMax with lo and hi applied,
// where given (positive): a bound given stands, and the other one, kept,
// moves if need be so that min <= max; given both, a hi below lo is
// raised to it.
func pollBounds(curMin, curMax, lo, hi time.Duration) (minWait, maxWait time.Duration) {
	switch {
	case lo > 0 && hi > 0:
		return lo, max(hi, lo)
	case lo > 0:
		return lo, max(curMax, lo)
	case hi > 0:
		return min(curMin, hi), hi
	}
	return curMin, curMax
}

// waiter waits for a new state version: at once on a write through this
// client, on a consensus notification where the backend offers them, and
// otherwise after a capped exponential backoff.
type waiter struct {
	min, max time.Duration
	delay    time.Duration
	watched  <-chan struct{}
	cancel   func()
}

func (r *ReadHandle) newWaiter(ctx context.Context) *waiter {
	w := &waiter{min: r.pollMin, max: r.pollMax, delay: r.pollMin}
	if wt, ok := r.c.loc.Consensus.(location.Watcher); ok {
		// Polling is the fallback: a watch that cannot be set up within
		// the longest poll interval (its backend unreachable, say) is not
		// waited for, and neither is one the caller gave up on.
		setup, cancel := context.WithTimeout(ctx, r.pollMax)
		ch, stop, err := wt.Watch(setup, r.m.shard.consensusKey())
		cancel()
		if err == nil {
			w.watched, w.cancel = ch, stop
		}
	}
	return w
}

func (w *waiter) wait(ctx context.Context, local <-chan struct{}) error {
	t := time.NewTimer(w.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-local:
		w.delay = w.min
	case <-w.watched:
		w.delay = w.min
	case <-t.C:
		w.delay = min(2*w.delay, w.max)
	}
	return nil
}

func (w *waiter) close() {
	if w.cancel != nil {
		w.cancel()
	}
}
