package persist

import (
	"math"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
	"github.com/shardflow/shardflow/persist/internal/state"
)

// PartDesc describes one part: enough to fetch and verify it and to filter
// it by its stats without fetching. It is plain data (exported fields only)
// so it can be sent between workers or processes.
type PartDesc struct {
	Key                string
	Format             int32 // 1: Parquet v1; 2: the same, inline; others were written by newer code
	Bytes, Rows        int64
	MinTime, MaxTime   frontier.Time
	KeyLower, KeyUpper []byte // inclusive bounds on the part's keys
	// DiffsSum is the sum of the part's diffs, or, when that lies beyond
	// the int64 range, the bound it passes (math.MaxInt64 or
	// math.MinInt64). DiffsSumExact says when it is the sum.
	DiffsSum int64
	Checksum uint32 // crc32c of the blob's bytes
	// Inline holds the part's bytes when it is kept in state (format 2)
	// rather than in a blob; do not modify it.
	Inline []byte
	// DistinctKeyVals: no two rows share a (key, val).
	DistinctKeyVals bool
	// BatchLower and BatchUpper are the bounds of the batch holding the
	// part when it was read.
	BatchLower, BatchUpper Frontier
}

// DiffsSumExact reports whether DiffsSum is known to be the exact sum of
// the part's diffs: it is unless it lies at a bound of the int64 range,
// where a sum beyond the range is kept.
func (p PartDesc) DiffsSumExact() bool {
	return p.DiffsSum != math.MaxInt64 && p.DiffsSum != math.MinInt64
}

// FormatKnown reports whether this code reads the part's format. A part of
// another, written by newer code, fails to fetch with ErrUnknownPartFormat,
// and its statistics may not mean what they mean here: nothing should be
// decided from them.
func (p PartDesc) FormatKnown() bool { return state.PartFormat(p.Format).Known() }

func partDesc(p state.Part, b state.Batch) PartDesc {
	return PartDesc{
		Key: p.Key, Format: int32(p.Format), Bytes: p.Bytes, Rows: p.Rows,
		MinTime: p.MinTime, MaxTime: p.MaxTime, KeyLower: p.KeyLower, KeyUpper: p.KeyUpper,
		DiffsSum: p.DiffsSum, Checksum: p.Checksum, DistinctKeyVals: p.DistinctKeyVals, Inline: p.Inline,
		BatchLower: b.Lower.Clone(), BatchUpper: b.Upper.Clone(),
	}
}

// ReadMode says which rows of a part a read wants.
type ReadMode int

const (
	// SnapshotRead keeps rows at t <= AsOf and advances them to AsOf.
	SnapshotRead ReadMode = iota + 1
	// ListenRead keeps rows at AsOf < t with Lower <= t.
	ListenRead
)

// FetchFilter selects a part's rows for one read. ReaderID, when set, lets a
// fetch of a missing blob say whether the reader had expired.
type FetchFilter struct {
	Mode     ReadMode
	AsOf     frontier.Time
	Lower    Frontier // ListenRead only: the listen's frontier before the batch
	ReaderID string
}

// keep reports whether a row at t is part of the read and the time it is
// read at.
func (f FetchFilter) keep(t frontier.Time) (frontier.Time, bool) {
	if f.Mode == SnapshotRead {
		return f.AsOf, t <= f.AsOf
	}
	return t, f.AsOf < t && f.Lower.LessEqual(t)
}

// mayMatch reports, from its stats alone, whether a part may hold a row of
// the read.
func (f FetchFilter) mayMatch(d PartDesc) bool {
	if d.Rows == 0 {
		return false
	}
	if f.Mode == SnapshotRead {
		return d.MinTime <= f.AsOf
	}
	return d.MaxTime > f.AsOf && f.Lower.LessEqual(d.MaxTime)
}

// LeasedPart is a part handed out by Snapshot or Listen, with the filter of
// that read and a lease on the state version it was read from. Until the
// lease is released the reader's seqno hold stays at or before that
// version, so GC keeps the part's blob. Release the lease once every fetch
// of the part is done.
type LeasedPart struct {
	Shard  ShardID
	Desc   PartDesc
	Filter FetchFilter
	Lease  *lease.Lease
}

// ShardState is a read-only view of one version of a shard's state.
type ShardState struct {
	Shard   ShardID
	SeqNo   uint64
	Since   Frontier
	Upper   Frontier
	Batches []BatchState
	Readers []ReaderState
	Writers []WriterState
}

// BatchState describes one batch.
type BatchState struct {
	Lower, Upper, Since Frontier
	WriterID, Token     string
	Parts               []PartDesc
}

// ReaderState describes one leased reader.
type ReaderState struct {
	ID, Purpose     string
	SeqNoHold       uint64
	Since           Frontier
	LastHeartbeatMs int64
	LeaseDurationMs int64
}

// WriterState describes one writer.
type WriterState struct {
	ID              string
	LastHeartbeatMs int64
	LeaseDurationMs int64
	MostRecentUpper Frontier
}

func viewOf(shard ShardID, s state.State) ShardState {
	v := ShardState{Shard: shard, SeqNo: uint64(s.SeqNo), Since: s.Since.Clone(), Upper: s.Upper.Clone()}
	for _, b := range s.Batches {
		bs := BatchState{Lower: b.Lower.Clone(), Upper: b.Upper.Clone(), Since: b.Since.Clone(), WriterID: b.WriterID, Token: b.Token}
		for _, p := range b.Parts {
			bs.Parts = append(bs.Parts, partDesc(p, b))
		}
		v.Batches = append(v.Batches, bs)
	}
	for _, r := range s.Readers {
		v.Readers = append(v.Readers, ReaderState{ID: r.ID, Purpose: r.Purpose, SeqNoHold: uint64(r.SeqNoHold),
			Since: r.Since.Clone(), LastHeartbeatMs: r.LastHeartbeatMs, LeaseDurationMs: r.LeaseDurationMs})
	}
	for _, w := range s.Writers {
		v.Writers = append(v.Writers, WriterState{ID: w.ID, LastHeartbeatMs: w.LastHeartbeatMs,
			LeaseDurationMs: w.LeaseDurationMs, MostRecentUpper: w.MostRecentUpper.Clone()})
	}
	return v
}
