package mem

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/shardflow/shardflow/persist/location"
)

// consensusStore is the state shared by every handle of one named store.
type consensusStore struct {
	mu struct {
		sync.Mutex
		// logs holds each key's versions in strictly increasing SeqNo
		// order; a key present here has at least one version. Data slices
		// are never mutated after insertion.
		logs map[string][]location.VersionedData
		// watches holds the live watches of each key.
		watches map[string]map[*watch]struct{}
	}
}

type watch struct {
	owner *Consensus
	ch    chan struct{} // capacity 1: notifications coalesce
}

func newConsensusStore() *consensusStore {
	s := &consensusStore{}
	s.mu.logs = map[string][]location.VersionedData{}
	s.mu.watches = map[string]map[*watch]struct{}{}
	return s
}

// Consensus is a handle to an in-memory consensus store.
type Consensus struct {
	store *consensusStore
	mu    struct {
		sync.Mutex
		closed bool
	}
}

var (
	_ location.Consensus = (*Consensus)(nil)
	_ location.Watcher   = (*Consensus)(nil)
)

// NewConsensus returns a handle to a new, private, empty store.
func NewConsensus() *Consensus { return &Consensus{store: newConsensusStore()} }

func (c *Consensus) check(ctx context.Context, op string) error {
	c.mu.Lock()
	closed := c.mu.closed
	c.mu.Unlock()
	if closed {
		return location.Determinate(op, location.ErrClosed)
	}
	return location.Determinate(op, ctx.Err())
}

func cloneVersion(v location.VersionedData) location.VersionedData {
	return location.VersionedData{SeqNo: v.SeqNo, Data: append([]byte{}, v.Data...)}
}

// Head implements location.Consensus.
func (c *Consensus) Head(ctx context.Context, key string) (location.VersionedData, bool, error) {
	if err := location.CheckKey("consensus head", key); err != nil {
		return location.VersionedData{}, false, err
	}
	if err := c.check(ctx, "consensus head"); err != nil {
		return location.VersionedData{}, false, err
	}
	s := c.store
	s.mu.Lock()
	log := s.mu.logs[key]
	s.mu.Unlock()
	if len(log) == 0 {
		return location.VersionedData{}, false, nil
	}
	return cloneVersion(log[len(log)-1]), true, nil
}

// CompareAndSet implements location.Consensus.
func (c *Consensus) CompareAndSet(ctx context.Context, key string, expected *location.SeqNo, next location.VersionedData) (location.CaSResult, error) {
	if err := location.CheckKey("consensus compare-and-set", key); err != nil {
		return 0, err
	}
	const op = "consensus compare-and-set"
	if err := c.check(ctx, op); err != nil {
		return 0, err
	}
	if err := location.CheckNextSeqNo(op, expected, next.SeqNo); err != nil {
		return 0, err
	}
	next = cloneVersion(next)
	s := c.store
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.mu.logs[key]
	switch {
	case expected == nil && len(log) != 0,
		expected != nil && (len(log) == 0 || log[len(log)-1].SeqNo != *expected):
		return location.ExpectationMismatch, nil
	}
	s.mu.logs[key] = append(log, next)
	for w := range s.mu.watches[key] {
		select {
		case w.ch <- struct{}{}:
		default: // a notification is already pending
		}
	}
	return location.Committed, nil
}

// Scan implements location.Consensus.
func (c *Consensus) Scan(ctx context.Context, key string, from location.SeqNo, limit int) ([]location.VersionedData, error) {
	if err := location.CheckKey("consensus scan", key); err != nil {
		return nil, err
	}
	if err := c.check(ctx, "consensus scan"); err != nil {
		return nil, err
	}
	s := c.store
	s.mu.Lock()
	log := s.mu.logs[key]
	s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(log, from, func(v location.VersionedData, s location.SeqNo) int {
		return cmpSeqNo(v.SeqNo, s)
	})
	var out []location.VersionedData
	for _, v := range log[i:] {
		if len(out) >= limit {
			break
		}
		out = append(out, cloneVersion(v))
	}
	return out, nil
}

func cmpSeqNo(a, b location.SeqNo) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Truncate implements location.Consensus.
func (c *Consensus) Truncate(ctx context.Context, key string, seqno location.SeqNo) (int, error) {
	if err := location.CheckKey("consensus truncate", key); err != nil {
		return 0, err
	}
	const op = "consensus truncate"
	if err := c.check(ctx, op); err != nil {
		return 0, err
	}
	s := c.store
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.mu.logs[key]
	if len(log) == 0 {
		return 0, location.Determinate(op, fmt.Errorf("%w: key %q has no versions", location.ErrTruncateBeyondHead, key))
	}
	if head := log[len(log)-1].SeqNo; seqno > head {
		return 0, location.Determinate(op, fmt.Errorf("%w: seqno %d, head %d", location.ErrTruncateBeyondHead, seqno, head))
	}
	i, _ := slices.BinarySearchFunc(log, seqno, func(v location.VersionedData, s location.SeqNo) int {
		return cmpSeqNo(v.SeqNo, s)
	})
	// Copy rather than reslice, so the deleted versions can be collected.
	s.mu.logs[key] = slices.Clone(log[i:])
	return i, nil
}

// ListKeys implements location.Consensus.
func (c *Consensus) ListKeys(ctx context.Context) ([]string, error) {
	if err := c.check(ctx, "consensus list keys"); err != nil {
		return nil, err
	}
	s := c.store
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.mu.logs))
	for k := range s.mu.logs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

// Watch implements location.Watcher. The watch ends when cancel is called
// or the handle is closed; ctx bounds only the call itself.
func (c *Consensus) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := location.CheckKey("consensus watch", key); err != nil {
		return nil, nil, err
	}
	if err := c.check(ctx, "consensus watch"); err != nil {
		return nil, nil, err
	}
	w := &watch{owner: c, ch: make(chan struct{}, 1)}
	s := c.store
	s.mu.Lock()
	if s.mu.watches[key] == nil {
		s.mu.watches[key] = map[*watch]struct{}{}
	}
	s.mu.watches[key][w] = struct{}{}
	s.mu.Unlock()
	cancel := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.mu.watches[key], w)
		if len(s.mu.watches[key]) == 0 {
			delete(s.mu.watches, key)
		}
	}
	return w.ch, cancel, nil
}

// Close implements location.Consensus: it ends the handle's watches. The
// store keeps its contents.
func (c *Consensus) Close() error {
	c.mu.Lock()
	c.mu.closed = true
	c.mu.Unlock()
	s := c.store
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, ws := range s.mu.watches {
		for w := range ws {
			if w.owner == c {
				delete(ws, w)
			}
		}
		if len(ws) == 0 {
			delete(s.mu.watches, key)
		}
	}
	return nil
}
