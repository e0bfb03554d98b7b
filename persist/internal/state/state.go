package state

import (
	"slices"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location"
)

// Frontier is an antichain of the totally ordered persist time.
type Frontier = frontier.Antichain[frontier.Time]

// PartFormat says how a part's blob is encoded. Values this code does not
// know are kept as they are and refused only by a fetch of that part.
type PartFormat int32

const (
	// FormatParquetV1 is the Parquet part of persist/internal/part, in a
	// blob.
	FormatParquetV1 PartFormat = 1
	// FormatParquetV1Inline is the same encoding held in Part.Inline: a
	// small part kept in state, so that its append writes no blob.
	FormatParquetV1Inline PartFormat = 2
)

// Known reports whether this code can decode parts of format f.
func (f PartFormat) Known() bool { return f == FormatParquetV1 || f == FormatParquetV1Inline }

// Part references one immutable run of updates: a blob, or for the inline
// format the bytes in Inline.
type Part struct {
	Key                string // blob key (inline: a unique name), never reused
	Format             PartFormat
	Bytes, Rows        int64
	MinTime, MaxTime   frontier.Time
	KeyLower, KeyUpper []byte
	DiffsSum           int64  // saturated at the int64 bounds: see part.Stats
	Checksum           uint32 // crc32c of the blob bytes
	DistinctKeyVals    bool   // no two rows share a (key, val)
	Inline             []byte // the part's bytes, for FormatParquetV1Inline

	unknown []byte // fields written by newer code, kept on rewrite
}

// IsInline reports whether the part is held in state, not in a blob.
func (p Part) IsInline() bool { return p.Format == FormatParquetV1Inline }

// Batch is the updates of the half-open interval of times [Lower, Upper).
// A batch's rows have times >= Lower, except that compaction may have
// advanced rows to Since, which never exceeds any read's as-of.
type Batch struct {
	Lower, Upper Frontier
	Since        Frontier
	Parts        []Part // shared between versions: never modified in place
	WriterID     string
	Token        string // idempotency token of the append that wrote it

	unknown []byte
}

// Reader is a leased reader: it holds back GC to SeqNoHold and compaction
// to Since until it expires.
type Reader struct {
	ID, Purpose     string
	SeqNoHold       location.SeqNo
	Since           Frontier
	LastHeartbeatMs int64
	LeaseDurationMs int64

	unknown []byte
}

// Writer is a registered writer and its last committed append.
type Writer struct {
	ID              string
	LastHeartbeatMs int64
	LeaseDurationMs int64
	MostRecentToken string
	MostRecentUpper Frontier

	unknown []byte
}

// State is one version of a shard. Values are immutable once built: a
// transition returns a new State and leaves its input untouched, so a State
// may be shared between goroutines without locks.
type State struct {
	// SeqNo is the consensus version this state was read from or will be
	// written as; 0 means the shard does not exist yet. It is not encoded.
	SeqNo location.SeqNo

	ShardID     string
	Since       Frontier // reads must be at an as-of the since is <= to
	Upper       Frontier // every time not beyond it is complete
	Batches     []Batch  // contiguous: Batches[i].Upper == Batches[i+1].Lower
	Readers     []Reader // sorted by ID
	Writers     []Writer // sorted by ID
	Transitions uint64

	minReaderVersion uint32
	unknown          []byte
}

// New returns the state of an empty shard: since and upper at the minimum.
func New(shardID string) State {
	return State{
		ShardID: shardID,
		Since:   frontier.Minimum[frontier.Time](),
		Upper:   frontier.Minimum[frontier.Time](),
	}
}

// Exists reports whether the state was read from consensus.
func (s State) Exists() bool { return s.SeqNo != 0 }

// clone returns a copy whose slices of batches, readers and writers may be
// changed without affecting s.
func (s State) clone() State {
	s.Batches = slices.Clone(s.Batches)
	s.Readers = slices.Clone(s.Readers)
	s.Writers = slices.Clone(s.Writers)
	return s
}

// Reader returns the reader with the given id.
func (s State) Reader(id string) (Reader, bool) {
	i, ok := slices.BinarySearchFunc(s.Readers, id, func(r Reader, id string) int { return compareString(r.ID, id) })
	if !ok {
		return Reader{}, false
	}
	return s.Readers[i], true
}

// Writer returns the writer with the given id.
func (s State) Writer(id string) (Writer, bool) {
	i, ok := slices.BinarySearchFunc(s.Writers, id, func(w Writer, id string) int { return compareString(w.ID, id) })
	if !ok {
		return Writer{}, false
	}
	return s.Writers[i], true
}

// MinHold returns the oldest seqno a reader holds, or s.SeqNo when no reader
// holds an older one: versions before it may be garbage collected.
func (s State) MinHold() location.SeqNo {
	hold := s.SeqNo
	for _, r := range s.Readers {
		hold = min(hold, r.SeqNoHold)
	}
	return hold
}

// BlobKeys calls fn with the blob key of every part, known format or not,
// except inline parts, which have no blob.
func (s State) BlobKeys(fn func(key string)) {
	for _, b := range s.Batches {
		for _, p := range b.Parts {
			if !p.IsInline() {
				fn(p.Key)
			}
		}
	}
}

// InlineBytes returns the bytes of the inline parts in s.
func (s State) InlineBytes() int64 {
	var n int64
	for _, b := range s.Batches {
		for _, p := range b.Parts {
			n += int64(len(p.Inline))
		}
	}
	return n
}

func compareString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// beyond reports whether the frontier f has passed t: t can no longer
// appear at f.
func beyond(f Frontier, t frontier.Time) bool { return !f.LessEqual(t) }

// HasUnknown reports whether the batch or one of its parts carries fields
// written by newer code. Rewriting it into a new batch would drop them.
func (b Batch) HasUnknown() bool {
	if len(b.unknown) > 0 {
		return true
	}
	for _, p := range b.Parts {
		if len(p.unknown) > 0 {
			return true
		}
	}
	return false
}

// HasUnknown reports whether any part of s carries fields written by newer
// code, which might reference blobs this code cannot see.
func (s State) HasUnknown() bool {
	if len(s.unknown) > 0 {
		return true
	}
	for _, b := range s.Batches {
		if b.HasUnknown() {
			return true
		}
	}
	for _, r := range s.Readers {
		if len(r.unknown) > 0 {
			return true
		}
	}
	for _, w := range s.Writers {
		if len(w.unknown) > 0 {
			return true
		}
	}
	return false
}
