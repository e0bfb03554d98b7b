package persist

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/shardflow/shardflow/persist/internal/part"
	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
)

// State returns the shard's current state, read from consensus alone. A
// shard with no state yet is returned empty with SeqNo 0.
func (c *Client) State(ctx context.Context, shard ShardID) (ShardState, error) {
	m, err := c.machine(shard)
	if err != nil {
		return ShardState{}, err
	}
	s, err := m.head(ctx)
	if err != nil {
		return ShardState{}, err
	}
	return viewOf(shard, s), nil
}

// GCReport says what a GC run did.
type GCReport struct {
	ExpiredReaders    []string       // readers whose lease had run out
	SeqNoHold         location.SeqNo // versions before it were collected
	VersionsTruncated int
	BlobsDeleted      int
}

// GC expires readers and writers whose lease ran out, deletes the blobs
// referenced only by state versions older than every reader's seqno hold,
// then truncates those versions. A blob that any version at or after the
// oldest hold references is never deleted. Every step tolerates a
// concurrent GC: deleting a deleted blob or truncating a truncated version
// is not an error. A version at or after the hold that does not decode, or
// that carries fields newer code wrote (ErrUnknownFields: they may
// reference blobs or hold versions), makes it delete and truncate nothing
// and fail; a newest version with such fields, expire nothing too.
func (c *Client) GC(ctx context.Context, shard ShardID) (GCReport, error) {
	var rep GCReport
	m, err := c.machine(shard)
	if err != nil {
		return rep, err
	}
	s, err := m.apply(ctx, func(s state.State) (state.State, bool, error) {
		rep.ExpiredReaders = nil // of this attempt only
		if s.HasUnknown() {
			// Newer code may hold readers or writers by fields this
			// code cannot see: expire nothing either.
			return s, false, fmt.Errorf("%w: seqno %d", ErrUnknownFields, s.SeqNo)
		}
		n, expired := s.ExpireStale(c.nowMs())
		rep.ExpiredReaders = expired
		return n, n.Transitions != s.Transitions, nil
	})
	if err != nil {
		return rep, err
	}
	if !s.Exists() {
		return rep, nil
	}
	hold := s.MinHold()
	rep.SeqNoHold = hold
	old := map[string]bool{}
	live := map[string]bool{}
	var first location.SeqNo
	err = c.scanStates(ctx, shard, func(seq location.SeqNo, v state.State, derr error) error {
		if first == 0 {
			first = seq
		}
		if derr != nil {
			if seq >= hold {
				return derr // cannot know what a live version references
			}
			return nil // its blobs stay for the janitor
		}
		if seq >= hold && v.HasUnknown() {
			// Newer code may reference blobs, or hold versions, in
			// fields this code cannot see: delete and truncate nothing.
			return fmt.Errorf("%w: seqno %d", ErrUnknownFields, seq)
		}
		into := live
		if seq < hold {
			into = old
		}
		v.BlobKeys(func(k string) { into[k] = true })
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("persist: gc of %s: %w", shard, err)
	}
	for k := range old {
		if live[k] {
			continue
		}
		existed, err := c.loc.Blob.Delete(ctx, k)
		if err != nil {
			return rep, fmt.Errorf("persist: gc of %s: %w", shard, err)
		}
		if existed {
			rep.BlobsDeleted++
		}
	}
	if first != 0 && first < hold {
		n, err := c.loc.Consensus.Truncate(ctx, shard.consensusKey(), hold)
		if err != nil {
			return rep, fmt.Errorf("persist: gc of %s: %w", shard, err)
		}
		rep.VersionsTruncated = n
	}
	return rep, nil
}

// scanStates calls fn with every version of the shard's state in consensus,
// oldest first; a version that does not decode is passed with its error.
// It reads pages until one comes back empty: a backend may return fewer
// than the limit, and a version missed here would be a blob GC or the
// janitor thinks unreferenced.
func (c *Client) scanStates(ctx context.Context, shard ShardID, fn func(location.SeqNo, state.State, error) error) error {
	const page = 256
	from := location.SeqNo(0)
	for {
		vs, err := c.loc.Consensus.Scan(ctx, shard.consensusKey(), from, page)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return nil
		}
		for _, v := range vs {
			s, derr := state.Decode(v.Data)
			s.SeqNo = v.SeqNo
			if derr != nil {
				derr = fmt.Errorf("seqno %d: %w", v.SeqNo, derr)
			}
			if err := fn(v.SeqNo, s, derr); err != nil {
				return err
			}
			from = v.SeqNo + 1
		}
	}
}

// JanitorReport says what a janitor run did.
type JanitorReport struct {
	Listed        int
	OrphansFound  int // unreferenced and old enough
	OrphansReaped int // of those, deleted by this run
	TempReaped    int // dead blob writers' *.tmp files among them
	// Foreign counts the keys under the shard's prefix that are not named
	// as persist names parts: never deleted. Another location nested
	// inside this one (s3://b/prod/eu inside s3://b/prod, its shards' keys
	// under "eu/" here) puts them there.
	Foreign int
}

// Janitor deletes the blobs under the shard that no state version in
// consensus references and that are older than minAge, such as the parts of
// a writer that died before committing, and the temporary files (*.tmp) a
// blob writer that died mid-write left. It looks only at keys named as
// persist names parts ("<shard>/p/<name>.parquet", and the temporary files
// beside them); others under the shard's prefix are counted and left.
// minAge must exceed the longest time a live writer takes between writing
// a part and committing it, or an in-flight append could lose its parts;
// an hour is a safe choice. Ages are measured by ClientOptions.BlobClock,
// the clock of the blob store's ModTime. A state version that does not
// decode, or that carries fields newer code wrote (ErrUnknownFields: they
// may reference blobs), makes it delete nothing and fail.
func (c *Client) Janitor(ctx context.Context, shard ShardID, minAge time.Duration) (JanitorReport, error) {
	var rep JanitorReport
	if err := shard.Validate(); err != nil {
		return rep, err
	}
	// List before scanning state: a blob listed here was written before
	// the scan, so if it was committed by then the scan sees it.
	var candidates []location.BlobMeta
	cutoff := c.opts.BlobClock.Now().Add(-minAge)
	err := c.loc.Blob.List(ctx, shard.blobPrefix(), func(b location.BlobMeta) error {
		rep.Listed++
		switch {
		case !shard.isPartKey(b.Key):
			rep.Foreign++
		case b.ModTime.Before(cutoff):
			candidates = append(candidates, b)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("persist: janitor of %s: %w", shard, err)
	}
	referenced := map[string]bool{}
	err = c.scanStates(ctx, shard, func(seq location.SeqNo, s state.State, derr error) error {
		if derr != nil {
			return derr // cannot know what it references: delete nothing
		}
		if s.HasUnknown() {
			// Newer code may reference blobs in fields this code cannot
			// see: delete nothing.
			return fmt.Errorf("%w: seqno %d", ErrUnknownFields, seq)
		}
		s.BlobKeys(func(k string) { referenced[k] = true })
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("persist: janitor of %s: %w", shard, err)
	}
	for _, b := range candidates {
		if referenced[b.Key] {
			continue
		}
		rep.OrphansFound++
		existed, err := c.loc.Blob.Delete(ctx, b.Key)
		if err != nil {
			return rep, fmt.Errorf("persist: janitor of %s: %w", shard, err)
		}
		if existed {
			rep.OrphansReaped++
			if strings.HasSuffix(path.Base(b.Key), ".tmp") {
				rep.TempReaped++
			}
		}
	}
	return rep, nil
}

// VerifyReport lists what the shard's current state references but the
// blob store does not hold intact.
type VerifyReport struct {
	SeqNo   location.SeqNo
	Parts   int
	Missing []string // keys of parts whose blob does not exist
	Corrupt []string // keys whose bytes do not match size or checksum
	// Unreadable lists the keys whose blob could not be read (permission
	// denied, say): Verify goes on past them to check the other parts.
	Unreadable []string
	Unknown    []string // keys of parts in formats this version cannot check
	Problems   []string // one line per problem, for people
}

// OK reports whether every part is present, readable and intact.
func (r VerifyReport) OK() bool {
	return len(r.Missing) == 0 && len(r.Corrupt) == 0 && len(r.Unreadable) == 0
}

// Verify reads every part the shard's current state references and checks
// it exists and matches its recorded size and checksum.
func (c *Client) Verify(ctx context.Context, shard ShardID) (VerifyReport, error) {
	var rep VerifyReport
	m, err := c.machine(shard)
	if err != nil {
		return rep, err
	}
	s, err := m.head(ctx)
	if err != nil {
		return rep, err
	}
	rep.SeqNo = s.SeqNo
	for _, b := range s.Batches {
		for _, p := range b.Parts {
			rep.Parts++
			data, ok, err := p.Inline, true, error(nil)
			if !p.IsInline() {
				data, ok, err = c.loc.Blob.Get(ctx, p.Key)
			}
			switch {
			case err != nil && ctx.Err() != nil:
				return rep, fmt.Errorf("persist: verify %s: %w", p.Key, err)
			case err != nil:
				rep.Unreadable = append(rep.Unreadable, p.Key)
				rep.Problems = append(rep.Problems, fmt.Sprintf("unreadable: %s: %v", p.Key, err))
			case !ok:
				rep.Missing = append(rep.Missing, p.Key)
			case int64(len(data)) != p.Bytes:
				rep.Corrupt = append(rep.Corrupt, p.Key)
				rep.Problems = append(rep.Problems, fmt.Sprintf("corrupt: %s: %d bytes, state says %d", p.Key, len(data), p.Bytes))
			case partChecksum(data) != p.Checksum:
				rep.Corrupt = append(rep.Corrupt, p.Key)
				rep.Problems = append(rep.Problems, fmt.Sprintf("corrupt: %s: checksum mismatch", p.Key))
			case !p.Format.Known():
				rep.Unknown = append(rep.Unknown, p.Key)
			}
		}
	}
	if len(rep.Missing) == 0 {
		return rep, nil
	}
	// A compaction and GC may have replaced and collected a part since the
	// state was read: only a part the newest state still references is
	// missing.
	now, err := m.head(ctx)
	if err != nil {
		return rep, err
	}
	still := map[string]bool{}
	now.BlobKeys(func(k string) { still[k] = true })
	missing := rep.Missing[:0]
	for _, k := range rep.Missing {
		if still[k] {
			missing = append(missing, k)
			rep.Problems = append(rep.Problems, fmt.Sprintf("missing: %s (referenced by seqno %d)", k, now.SeqNo))
		}
	}
	rep.Missing = missing
	return rep, nil
}
func partChecksum(b []byte) uint32 { return part.Checksum(b) }
