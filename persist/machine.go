package persist

import (
	"context"
	"fmt"
	"sync"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
)

// machine commits state transitions of one shard by compare-and-set and
// caches the newest state it has seen. It is the thin layer between the pure
// transitions of internal/state and consensus.
type machine struct {
	c     *Client
	shard ShardID
	// enc encodes each new state version, reusing the encodings of the
	// batches it shares with the previous one.
	enc state.Encoder

	mu struct {
		sync.Mutex
		latest state.State   // newest state seen; SeqNo 0 if none yet
		notify chan struct{} // closed when latest changes
	}
}

func newMachine(c *Client, shard ShardID) *machine {
	m := &machine{c: c, shard: shard}
	m.mu.latest = state.New(string(shard))
	m.mu.notify = make(chan struct{})
	return m
}

// watch returns a channel closed when the cached state next changes. Take it
// before reading state, so a change after the read is never missed.
func (m *machine) watch() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.notify
}

func (m *machine) cached() state.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.latest
}

// observe records s if it is newer than the cached state and wakes waiters.
func (m *machine) observe(s state.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.observeLocked(s)
}

func (m *machine) observeLocked(s state.State) {
	if s.SeqNo <= m.mu.latest.SeqNo {
		return
	}
	if state.InvariantsEnabled && m.mu.latest.Exists() {
		old := m.mu.latest
		if !frontier.LessEqual(old.Since, s.Since) || !frontier.LessEqual(old.Upper, s.Upper) {
			panic(fmt.Sprintf("persist: shard %s regressed from seqno %d (since %v upper %v) to %d (since %v upper %v)",
				m.shard, old.SeqNo, old.Since, old.Upper, s.SeqNo, s.Since, s.Upper))
		}
		s.CheckInvariants()
	}
	m.mu.latest = s
	close(m.mu.notify)
	m.mu.notify = make(chan struct{})
}

// head reads the newest state from consensus. A shard without state is the
// empty state with SeqNo 0.
func (m *machine) head(ctx context.Context) (state.State, error) {
	vd, ok, err := m.c.loc.Consensus.Head(ctx, m.shard.consensusKey())
	if err != nil {
		return state.State{}, fmt.Errorf("persist: read state of %s: %w", m.shard, err)
	}
	if !ok {
		return state.New(string(m.shard)), nil
	}
	if cached := m.cached(); cached.SeqNo == vd.SeqNo {
		return cached, nil
	}
	s, err := state.Decode(vd.Data)
	if err != nil {
		return state.State{}, fmt.Errorf("persist: shard %s seqno %d: %w", m.shard, vd.SeqNo, err)
	}
	s.SeqNo = vd.SeqNo
	m.observe(s)
	return s, nil
}

// transition computes the next state from the current one. It must be a
// pure function of its input, because apply runs it again after a lost race
// or an indeterminate commit, on the newer state; a transition that already
// took effect must then report no change. changed=false commits nothing.
type transition func(s state.State) (next state.State, changed bool, err error)

// apply commits fn by compare-and-set, retrying lost races on the newer
// state, and returns the state it committed (or the state fn declined to
// change). A transition that declines on the cached state is run again on
// the head read from consensus, so its refusal never rests on stale state.
func (m *machine) apply(ctx context.Context, fn transition) (state.State, error) {
	s, _, err := m.applyTracked(ctx, fn)
	return s, err
}

// applyTracked is apply that also reports whether an attempt ended
// indeterminately, so an earlier run of fn may have committed even if the
// last run declined to change anything.
func (m *machine) applyTracked(ctx context.Context, fn transition) (s state.State, maybeCommitted bool, err error) {
	s, err = m.applyLoop(ctx, fn, &maybeCommitted)
	if err != nil && maybeCommitted && !location.IsIndeterminate(err) {
		// An earlier attempt may have committed: whatever failed after it,
		// the outcome is unknown.
		err = location.Indeterminate("persist compare-and-set", err)
	}
	return s, maybeCommitted, err
}

func (m *machine) applyLoop(ctx context.Context, fn transition, maybeCommitted *bool) (state.State, error) {
	cur, fresh := m.cached(), false
	if !cur.Exists() {
		var err error
		if cur, err = m.head(ctx); err != nil {
			return state.State{}, err
		}
		fresh = true
	}
	indeterminate := 0
	for {
		if err := ctx.Err(); err != nil {
			return cur, err
		}
		next, changed, err := fn(cur)
		if err != nil || !changed {
			if !fresh {
				// Nothing to do, or refused, on a cached state: decide
				// again on the head.
				if cur, err = m.head(ctx); err != nil {
					return state.State{}, err
				}
				fresh = true
				continue
			}
			return cur, err
		}
		next.SeqNo = cur.SeqNo + 1
		var expected *location.SeqNo
		if cur.Exists() {
			expected = &cur.SeqNo
		}
		res, err := m.c.loc.Consensus.CompareAndSet(ctx, m.shard.consensusKey(), expected,
			location.VersionedData{SeqNo: next.SeqNo, Data: m.enc.Encode(next)})
		switch {
		case err != nil && !location.IsIndeterminate(err):
			return cur, fmt.Errorf("persist: commit state of %s: %w", m.shard, err)
		case err != nil:
			*maybeCommitted = true
			indeterminate++
			if indeterminate > m.c.opts.CASRetries {
				return cur, fmt.Errorf("persist: commit state of %s: %w", m.shard, err)
			}
		case res == location.Committed:
			m.observe(next)
			return next, nil
		}
		// Lost the race, or may have won it: run fn again on the head.
		if cur, err = m.head(ctx); err != nil {
			return state.State{}, err
		}
		fresh = true
	}
}
