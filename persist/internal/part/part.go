package part

import (
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/shardflow/shardflow/frontier"
)

// Update is one row of a part: the key and value are opaque bytes, Diff the
// signed multiplicity of (Key, Val) at Time.
type Update struct {
	Key, Val []byte
	Time     frontier.Time
	Diff     int64
}

// Stats summarize a part. They are computed by Encode and stored in the
// part's footer, so ReadStats recovers them without decoding any rows.
//
// KeyLower and KeyUpper are inclusive bounds on the keys (in bytes.Compare
// order): KeyLower <= k <= KeyUpper for every key k of the part. A bound is
// the exact minimum or maximum key unless that key is longer than
// MaxKeyBoundLen bytes; then KeyLower is its prefix of MaxKeyBoundLen bytes
// (still <= every key) and KeyUpper is the shortest byte string of at most
// MaxKeyBoundLen bytes that is >= the maximum key (the prefix with its last
// non-0xff byte incremented), or the full maximum key if no such string
// exists. A part with no rows has nil bounds and zero times.
type Stats struct {
	Rows  int64
	Bytes int64 // encoded size of the part, in bytes

	MinTime, MaxTime frontier.Time

	KeyLower, KeyUpper []byte

	// DiffsSum is the sum of the rows' diffs, or, when that lies beyond
	// the int64 range, the bound it passes (math.MaxInt64 or
	// math.MinInt64): a DiffsSum strictly between the bounds is exact.
	DiffsSum int64
}

const (
	// DefaultTargetSize is the encoded size Split aims for by default.
	DefaultTargetSize = 128 << 20

	// MaxKeyBoundLen is the longest KeyLower/KeyUpper kept in Stats before
	// truncation.
	MaxKeyBoundLen = 256

	// MaxRows is the most rows one part may hold. Encode refuses more and
	// Decode treats a footer claiming more as corrupt, which bounds the
	// memory a hostile part can make Decode allocate.
	MaxRows = 1 << 23

	// maxColumnBytes bounds the total key (or value) bytes of one part:
	// decoded offsets are uint32.
	maxColumnBytes = 1<<32 - 1
)

// ErrCorrupt is wrapped by every error Decode and ReadStats return for bytes
// that are not a well-formed part.
var ErrCorrupt = errors.New("part: corrupt")

// ErrTooLarge is returned by Encode for input beyond MaxRows rows or more
// than 4 GiB of keys or values.
var ErrTooLarge = errors.New("part: too large")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C (Castagnoli) of a blob's bytes. Part references
// record it at write time so a fetch can detect a corrupted or truncated blob.
func Checksum(data []byte) uint32 { return crc32.Checksum(data, castagnoli) }

// rowOverhead approximates the encoded bytes of a row beyond its key and
// value: time and diff budgeted at full width plus the 4-byte length prefix
// of each byte array. Times and diffs usually repeat and dictionary-encode
// to a byte or two, so parts tend to come out below the target (for 16-byte
// keys and values, about 40 bytes per row against 56 estimated), never far
// above it.
const rowOverhead = 8 + 8 + 4 + 4

// EstimatedSize is the size Split budgets for one update.
func EstimatedSize(u Update) int64 { return int64(len(u.Key)+len(u.Val)) + rowOverhead }

// Split cuts updates, in the given order, into consecutive runs whose
// estimated encoded size is about targetSize bytes each: a run ends with the
// update that brings it to targetSize or beyond. Every run holds at least one
// update and no run holds more than MaxRows. The runs alias updates. Split of
// no updates returns nil; a targetSize <= 0 gives one update per run.
func Split(updates []Update, targetSize int64) [][]Update {
	var runs [][]Update
	start, size := 0, int64(0)
	for i, u := range updates {
		size += EstimatedSize(u)
		if size >= targetSize || i+1-start >= MaxRows {
			runs = append(runs, updates[start:i+1:i+1])
			start, size = i+1, 0
		}
	}
	if start < len(updates) {
		runs = append(runs, updates[start:len(updates):len(updates)])
	}
	return runs
}

// ChecksumError reports a blob whose bytes do not match the checksum its
// reference recorded. It wraps ErrCorrupt.
type ChecksumError struct {
	Want, Got uint32
	Size      int
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("part: corrupt: checksum of %d bytes is %08x, want %08x", e.Size, e.Got, e.Want)
}

// Unwrap returns ErrCorrupt.
func (e *ChecksumError) Unwrap() error { return ErrCorrupt }

// Verify checks data against the checksum recorded for it, returning a
// *ChecksumError on mismatch.
func Verify(data []byte, want uint32) error {
	if got := Checksum(data); got != want {
		return &ChecksumError{Want: want, Got: got, Size: len(data)}
	}
	return nil
}
