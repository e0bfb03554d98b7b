package persist

import (
	"context"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/state"
)

// OpenUnregisteredReader returns a reader of shard that registers nothing
// in the shard's state, so that opening, reading and closing it write
// nothing: it reads a location opened read-only (DefaultLocationReadOnly),
// such as a backup, a read-only file system or another user's.
//
// It holds nothing either. A reader registered elsewhere may let the
// shard's since pass where it reads (Snapshot and Listen then fail with a
// *SinceAdvancedError), and GC may remove a part it handed out before the
// part is fetched (a *BlobMissingError). Where nothing writes or collects
// the location meanwhile, this process's own Compact and GC included,
// neither can happen. Its since starts at the shard's; Heartbeat does
// nothing, DowngradeSince moves only its own since, and Expire only ends
// it.
func (c *Client) OpenUnregisteredReader(ctx context.Context, shard ShardID) (*ReadHandle, error) {
	m, err := c.machine(shard)
	if err != nil {
		return nil, err
	}
	s, err := m.head(ctx)
	if err != nil {
		return nil, err
	}
	r := &ReadHandle{c: c, m: m, unregistered: true,
		pollMin: c.opts.ListenPollMin, pollMax: c.opts.ListenPollMax}
	r.mu.since = s.Since.Clone()
	r.mu.lastSeq = s.SeqNo
	return r, nil
}

// checkUnregistered is read's check for an unregistered reader, which no
// state records: it has not been expired and, if checkSince, asOf is at or
// after both its own since and the shard's, which nothing holds back.
func (r *ReadHandle) checkUnregistered(s state.State, asOf frontier.Time, checkSince bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.expired {
		return r.expiredErr()
	}
	if !checkSince {
		return nil
	}
	for _, since := range []Frontier{r.mu.since, s.Since} {
		if !since.LessEqual(asOf) {
			return &SinceAdvancedError{AsOf: asOf, Since: since.Clone()}
		}
	}
	return nil
}

// checkSince is, for a listen of an unregistered reader, the check that
// the shard's since has not passed the listen's frontier. Nothing holds
// the since back for it, and once the since has passed the frontier any
// merge may advance rows the listen is still to yield past their times, so
// it stops then rather than at the first such batch (which checkAdvanced
// refuses, for every reader, as it comes). The error names the listen's
// as-of, which the since has passed too.
func (l *Listen) checkSince(s state.State) error {
	at, ok := l.frontier.Single()
	if !ok {
		return nil // the empty frontier: nothing is left to yield
	}
	if err := l.r.checkUnregistered(s, at, true); err != nil {
		if sa, ok := err.(*SinceAdvancedError); ok {
			sa.AsOf = l.asOf
		}
		return err
	}
	return nil
}
