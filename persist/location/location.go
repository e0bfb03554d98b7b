package location

import (
	"context"
	"time"

	"github.com/shardflow/shardflow/lease"
)

// SeqNo numbers the versions of one consensus key. Versions are strictly
// increasing; the first version of a key may have any SeqNo. It is the type
// leases hold (lease.SeqNo), so that lease depends on nothing of persist.
type SeqNo = lease.SeqNo

// VersionedData is one version of a consensus key.
type VersionedData struct {
	SeqNo SeqNo
	Data  []byte
}

// CaSResult is the outcome of a compare-and-set that did not fail.
type CaSResult int

const (
	// Committed: the new version is now the head.
	Committed CaSResult = iota + 1
	// ExpectationMismatch: the head was not the expected one; nothing
	// changed. Losing a race is an outcome, not an error.
	ExpectationMismatch
)

func (r CaSResult) String() string {
	switch r {
	case Committed:
		return "committed"
	case ExpectationMismatch:
		return "expectation mismatch"
	}
	return "invalid"
}

// Consensus is a linearizable log of versions per key.
//
// Errors are *ExternalError values that say whether the operation
// definitely did not happen or may have happened.
//
// Keys are those CheckKey accepts: valid UTF-8 with no NUL, at most
// MaxKeyBytes bytes. Every backend refuses any other with a determinate
// error wrapping ErrInvalidKey.
type Consensus interface {
	// Head returns the latest version of key, or ok=false if key has none.
	Head(ctx context.Context, key string) (data VersionedData, ok bool, err error)
	// CompareAndSet makes next the head of key iff the current head's SeqNo
	// is exactly *expected (expected nil: key has no version) and
	// next.SeqNo > *expected.
	CompareAndSet(ctx context.Context, key string, expected *SeqNo, next VersionedData) (CaSResult, error)
	// Scan returns up to limit versions of key with SeqNo >= from, in
	// increasing SeqNo order.
	Scan(ctx context.Context, key string, from SeqNo, limit int) ([]VersionedData, error)
	// Truncate deletes the versions of key with SeqNo < seqno and returns how
	// many it deleted. It refuses (a determinate error) if seqno is greater
	// than the head's SeqNo, so the head is never deleted.
	Truncate(ctx context.Context, key string, seqno SeqNo) (deleted int, err error)
	// ListKeys returns every key that has at least one version.
	ListKeys(ctx context.Context) ([]string, error)
	Close() error
}

// Watcher is an optional interface of a Consensus that can notify of new
// versions written by any process (PostgreSQL LISTEN/NOTIFY, say). A reader
// wakes on a notification instead of waiting for its next poll; polling stays
// the fallback, so a notification may be lost or spurious without harm.
type Watcher interface {
	// Watch returns a channel that receives a value (coalesced) after a new
	// version of key may have been written, until cancel is called.
	Watch(ctx context.Context, key string) (notify <-chan struct{}, cancel func(), err error)
}

// Exister is an optional interface of a Blob that can tell whether key has
// a value without reading it or listing other keys. A Blob without it is
// asked with List.
type Exister interface {
	Exists(ctx context.Context, key string) (bool, error)
}

// IntoGetter is an optional interface of a Blob that can read a value into
// storage the caller provides: GetInto is Get, except that when the value
// fits in cap(dst) it is read into dst's storage and the returned value
// aliases dst. The Blob keeps no reference to dst or to the value, so a
// caller done with one value can reuse its storage for the next.
type IntoGetter interface {
	GetInto(ctx context.Context, key string, dst []byte) (value []byte, ok bool, err error)
}

// BlobMeta describes one stored blob.
type BlobMeta struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Blob is a durable key-value store of immutable byte strings.
//
// Errors are *ExternalError values.
type Blob interface {
	// Get returns the value of key, or ok=false if there is none.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value at key atomically: a reader sees all of it or none
	// of it. When Set returns nil the value is durable.
	Set(ctx context.Context, key string, value []byte) error
	// Delete removes key. Deleting a missing key is not an error; existed
	// says whether there was one.
	Delete(ctx context.Context, key string) (existed bool, err error)
	// List calls fn for every key with the prefix, in no particular order,
	// stopping at the first error fn returns. Backend bookkeeping files
	// (sidecars) are not listed; temporary files a dead writer left are.
	List(ctx context.Context, prefix string, fn func(BlobMeta) error) error
	Close() error
}
