// Package persist stores shards: durable, append-only collections of
// updates (key, val, time, diff) with two frontiers, the upper (every time
// not beyond it is complete) and the since (reads must be at an as-of the
// since is <= to; history before it may have been compacted together).
//
// # Location
//
// A Location is a Blob store, holding immutable parts (Parquet files
// written once under content-unique keys "<shard>/p/..."), and a Consensus
// log holding one version of each shard's state per SeqNo. OpenLocation opens
// both by URL; DefaultLocation opens a file blob store and an embedded SQLite
// consensus under one directory.
//
// # State
//
// A shard's state (internal/state) is its since, upper, batches (each the
// updates of [lower, upper) in parts), leased readers and writers. Every
// change is a pure function from one state to the next, committed by
// compare-and-set against the version it was computed from; a lost race
// reruns it on the newer version. The encoding is protocol buffers and
// forward compatible: fields and entries this code does not know are kept
// when it rewrites state, a part of an unknown format is refused only when
// fetched, and state that demands a newer reader is refused whole
// (ErrStateIncompatible). Regenerate the encoding after editing
// internal/statepb/state.proto with go generate ./persist/internal/statepb
// (needs protoc and protoc-gen-go on PATH).
//
// A shard exists once anything registers with it: OpenWriter and
// OpenReader both create a shard that has no state yet, empty, with since
// and upper [0], and a reader of a shard nobody writes waits in Snapshot
// and Listen for a write that never comes. So a mistyped shard id is a
// new, empty shard. To look before opening, Client.State returns SeqNo 0
// for a shard with no state, and Client.ListShards lists the shards a
// location holds.
//
// # Writing
//
// WriteHandle.CompareAndAppend writes the updates as consolidated, sorted
// parts of about ClientOptions.PartTargetSize, then commits the batch if the
// upper is still the expected one (else *UpperMismatchError with the
// current upper, and the parts are deleted). A commit whose outcome is
// unknown is retried with the same idempotency token, so it is applied at
// most once; if the retry still cannot tell whether it landed, the error
// is indeterminate (location.IsIndeterminate) and the parts are kept.
//
// CompareAndAppend takes its updates in memory. A BatchBuilder takes any
// number of them, one at a time, in bounded memory: it writes each full
// buffer to blob as a sorted run, and WriteHandle.AppendBatch merges the
// runs into the batch CompareAndAppend would have written and commits it
// the same way.
//
// A batch that encodes to one part of at most
// ClientOptions.InlineWriteMaxBytes (default 4 KiB) is kept in the state
// itself rather than written as a blob, while the state's inline bytes stay
// under InlineTotalMaxBytes: a small append then costs one compare-and-set.
// (A writer judges the room by the state its client saw last; if appends
// on other clients have filled it meanwhile, the compare-and-set finds so,
// and the part is written to blob before the append tries again.)
// Since every append rewrites the whole state, the writer keeps the number
// of batches small: after an append that completes a run of MergeFanIn
// consecutive batches of about the same size, it merges them into one
// batch of blob parts (rows keep their times, advanced only to the since),
// so a shard holds a few batches per factor of 4 in size however small its
// appends, and inline parts move to blobs. A failed merge does not fail the
// append; WriteHandle.MergeErr reports it and later appends retry.
//
// # Reading
//
// A ReadHandle is a leased reader: it holds the since and a seqno hold, and
// must heartbeat within ClientOptions.LeaseDuration (by the injected Clock)
// or GC expires it. Snapshot(asOf) returns the parts holding the contents at
// asOf; Listen(asOf) yields the batches beyond asOf, each followed by
// progress. Every part is handed out with a lease.Lease on the state version
// it was read from: the reader's seqno hold never passes the oldest live
// lease, so GC keeps the blob until the lease is released. Fetch verifies a
// part's checksum, decodes it and keeps the rows of the read, consolidated.
// FetchEncoded and EncodedPart.Decode are the same in two halves, the read
// and the CPU work, for a caller that does them on different goroutines.
//
// Client.OpenUnregisteredReader reads the same way without registering,
// and so writes nothing: it reads a location opened read-only
// (DefaultLocationReadOnly). It holds nothing either; where another process
// writes the location, a read may find the since past its as-of
// (*SinceAdvancedError) or a part collected before it is fetched
// (*BlobMissingError).
//
// # Leases, for code that fetches elsewhere
//
// The parts of one Snapshot or Listen event may be handed to other
// goroutines or workers (PartDesc is plain data) and fetched there with
// Client.Fetch. Release a part's Lease only once every fetch of it is done,
// and take parts (with their leases) before downgrading the reader's since.
// Heartbeat the reader more often than the lease duration; a reader that
// expired loses its holds, and a fetch of a part GC then removed fails with
// a *BlobMissingError whose ReaderExpired is true.
//
// # Errors
//
// Errors are typed and prefixed "persist:": *UpperMismatchError,
// *SinceAdvancedError (errors.Is ErrSinceAdvanced), ErrReaderExpired,
// *BlobMissingError (ErrBlobMissing), *BlobCorruptError (ErrBlobCorrupt),
// ErrUnknownPartFormat, ErrUnknownFields, ErrStateIncompatible,
// ErrStateCorrupt. Failures of
// the stores wrap *location.ExternalError; location.IsIndeterminate says
// whether a failed operation may still have happened. What persist refuses
// before it can have any effect is determinate: *UpperMismatchError,
// ErrInvalidUpdate, ErrDiffOverflow, *SinceAdvancedError, ErrReaderExpired,
// ErrInvalidShardID.
//
// # Maintenance
//
// Compact merges the batches behind the since, advancing their times to it. GC deletes blobs only older
// state versions reference and truncates those versions. Janitor deletes
// blobs no version references that are older than a minimum age (the parts
// of writers that died before committing), measured by
// ClientOptions.BlobClock, the clock of the blob store. State written by
// newer code is read, appended to and rewritten with its unknown fields
// kept, but Janitor and Compact refuse it (ErrUnknownFields): the one
// cannot see blobs those fields may name, the other would drop them.
// Verify reports parts whose blob
// is missing or does not match its checksum. Each tolerates running
// concurrently with itself and with readers and writers.
package persist
