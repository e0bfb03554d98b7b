package persist

import (
	"errors"
	"fmt"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/state"
)

var (
	// ErrSinceAdvanced: a read asked for an as-of its reader's since has
	// passed. The error is a *state.SinceAdvancedError-backed
	// *SinceAdvancedError; match it with errors.Is.
	ErrSinceAdvanced = state.ErrSinceAdvanced
	// ErrReaderExpired: the reader's lease ran out (or Expire was called) and
	// it was removed from the shard; its holds are gone.
	ErrReaderExpired error = refusal("persist: reader expired")
	// ErrBlobMissing is matched by every *BlobMissingError.
	ErrBlobMissing = errors.New("persist: blob missing")
	// ErrBlobCorrupt is matched by every *BlobCorruptError.
	ErrBlobCorrupt = errors.New("persist: blob corrupt")
	// ErrUnknownPartFormat: a part was written in a format newer than this
	// code; upgrade to read it.
	ErrUnknownPartFormat = errors.New("persist: part format unknown to this version")
	// ErrInvalidShardID: a shard id outside [A-Za-z0-9_.-]{1,128}.
	ErrInvalidShardID error = refusal("persist: invalid shard id")
	// ErrInvalidUpdate: an update's time is outside [expectedUpper, newUpper),
	// the uppers are not in order, or the diffs of one (key, val, time) sum
	// out of range (then ErrDiffOverflow too).
	ErrInvalidUpdate error = refusal("persist: invalid update")
	// ErrDiffOverflow: the diffs of one (key, val) at one time sum out of
	// the int64 range. An append whose updates would is refused (wrapped
	// with ErrInvalidUpdate); a compaction that would merge batches into
	// such a row merges nothing. (A snapshot fetch that would merge a
	// part's rows into such a row keeps them apart instead: see
	// FetchedPart.) A wrapped sum is never stored or served.
	ErrDiffOverflow error = refusal("persist: diffs sum out of the int64 range")
	// ErrStateIncompatible: the shard's state was written by a newer version
	// that older code must not rewrite.
	ErrStateIncompatible = state.ErrIncompatible
	// ErrUnknownFields: the shard's state carries fields written by newer
	// code. Reads and appends keep them; the janitor (which cannot tell
	// whether they reference blobs) and compaction (which would drop them
	// from the batches it replaces) refuse to run.
	ErrUnknownFields = errors.New("persist: state has fields unknown to this version")
	// ErrStateCorrupt: a state version in consensus does not decode.
	ErrStateCorrupt = state.ErrCorrupt
)

// refusal is a sentinel for what persist refuses before it can have any
// effect: an error wrapping one is determinate (location.IsIndeterminate).
type refusal string

func (e refusal) Error() string { return string(e) }

// Determinate tells location.IsIndeterminate that nothing happened.
func (refusal) Determinate() bool { return true }

// SinceAdvancedError says which as-of and since conflicted.
type SinceAdvancedError = state.SinceAdvancedError

// UpperMismatchError: CompareAndAppend expected an upper the shard no longer
// (or not yet) has. Nothing was written.
type UpperMismatchError struct {
	Expected, Current Frontier
}

func (e *UpperMismatchError) Error() string {
	return fmt.Sprintf("persist: upper mismatch: expected %v got %v", e.Expected, e.Current)
}

// Determinate tells location.IsIndeterminate that nothing was written.
func (e *UpperMismatchError) Determinate() bool { return true }

// BlobMissingError: a part's blob does not exist. ReaderExpired says whether
// the reader the part was leased to had been expired when the fetch failed,
// the usual reason GC removed a blob a reader still wanted.
type BlobMissingError struct {
	Shard         ShardID
	Key           string
	ReaderID      string
	ReaderExpired bool
	// CheckErr is why the reader could not be checked (reading the state
	// failed); ReaderExpired is then false but unknown.
	CheckErr error
}

func (e *BlobMissingError) Error() string {
	why := fmt.Sprintf("reader %s still registered: deleted outside shardflow or lost by the blob store, or collected because its lease on the part was released too early", e.ReaderID)
	switch {
	case e.ReaderID == "":
		why = "no registered reader held it: GC may have removed it, or it was deleted outside shardflow or lost by the blob store"
	case e.CheckErr != nil:
		why = fmt.Sprintf("could not check reader %s: %v", e.ReaderID, e.CheckErr)
	case e.ReaderExpired:
		why = fmt.Sprintf("reader %s had expired, so GC may have removed it", e.ReaderID)
	}
	return fmt.Sprintf("persist: blob missing: shard %s key %s (%s)", e.Shard, e.Key, why)
}

// Is makes errors.Is(err, ErrBlobMissing) hold.
func (e *BlobMissingError) Is(target error) bool { return target == ErrBlobMissing }

// DiffOverflowError says which (key, val, time) has diffs summing out of the
// int64 range, and on which side. It matches ErrDiffOverflow.
type DiffOverflowError struct {
	Key, Val []byte
	Time     frontier.Time
	Above    bool // past the top of the range, not the bottom
}

func (e *DiffOverflowError) Error() string {
	side := "below -9223372036854775808"
	if e.Above {
		side = "above 9223372036854775807"
	}
	return fmt.Sprintf("persist: the diffs of key %.40q val %.40q at time %d sum to %s", e.Key, e.Val, e.Time, side)
}

// Is makes errors.Is(err, ErrDiffOverflow) hold.
func (e *DiffOverflowError) Is(target error) bool { return target == ErrDiffOverflow }

// Determinate tells location.IsIndeterminate that what met the overflow
// was refused (see ErrDiffOverflow).
func (e *DiffOverflowError) Determinate() bool { return true }

// SinceCheckError is CheckSince's answer for a since where the diffs of a
// (key, val) sum out of the int64 range: in a read at the since (Read), or
// in the compaction, once the since is there, of the batches wholly behind
// it, which may sum out of range where a read, counting the rows of the
// batch after them too, does not. It wraps the *DiffOverflowError.
type SinceCheckError struct {
	Since    frontier.Time
	Read     bool
	Overflow *DiffOverflowError
}

func (e *SinceCheckError) Error() string {
	where := fmt.Sprintf("compacting the batches behind %d", e.Since)
	if e.Read {
		where = fmt.Sprintf("a read at %d", e.Since)
	}
	return fmt.Sprintf("persist: %s: %v", where, e.Overflow)
}

func (e *SinceCheckError) Unwrap() error { return e.Overflow }

// BlobCorruptError: a part's blob exists but its bytes are not what was
// written (checksum or size mismatch) or do not decode.
type BlobCorruptError struct {
	Key    string
	Reason string
	Err    error // the decoder's error, if any
}

func (e *BlobCorruptError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("persist: blob corrupt: %s: %s: %v", e.Key, e.Reason, e.Err)
	}
	return fmt.Sprintf("persist: blob corrupt: %s: %s", e.Key, e.Reason)
}

// Is makes errors.Is(err, ErrBlobCorrupt) hold.
func (e *BlobCorruptError) Is(target error) bool { return target == ErrBlobCorrupt }

func (e *BlobCorruptError) Unwrap() error { return e.Err }
