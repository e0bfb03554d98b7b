package location

import "errors"

// Causes a backend wraps in a determinate ExternalError, for callers that
// tell them apart with errors.Is.
var (
	// ErrSeqNoNotIncreasing: a CompareAndSet with next.SeqNo <= *expected,
	// a caller bug. Nothing changed.
	ErrSeqNoNotIncreasing = errors.New("location: next seqno not greater than expected")
	// ErrTruncateBeyondHead: a Truncate whose seqno is greater than the
	// head's (or of a key with no versions). Nothing was deleted.
	ErrTruncateBeyondHead = errors.New("location: truncate beyond the head")
	// ErrClosed: the store was used after Close.
	ErrClosed = errors.New("location: store closed")
	// ErrReadOnly: a write to a store opened for reading only, or that
	// this process may not write. Nothing changed.
	ErrReadOnly = errors.New("location: store opened read-only")
	// ErrSeqNoTooLarge: a SeqNo above what the backend can store (SQL
	// backends store SeqNo as a signed 64-bit integer).
	ErrSeqNoTooLarge = errors.New("location: seqno too large for the backend")
	// ErrInvalidKey: a consensus key that is not valid UTF-8, holds a NUL
	// or is longer than MaxKeyBytes (see CheckKey). Nothing changed.
	ErrInvalidKey = errors.New("location: invalid consensus key")
	// ErrInvalidBlobKey: a blob key the backend cannot keep apart from
	// other keys (the file backend's: one whose path cleans to another
	// key's, such as "/x" or "a/./b"). Nothing changed.
	ErrInvalidBlobKey = errors.New("location: invalid blob key")
)
