package shardsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/codec"
)

// SnapshotMode says whether the source reads the shard's contents at as_of
// before the changes after it.
type SnapshotMode int

const (
	// SnapshotInclude emits the contents at as_of (advanced to as_of), then
	// every change after it.
	SnapshotInclude SnapshotMode = iota
	// SnapshotExclude emits only the changes after as_of.
	SnapshotExclude
)

// FilterResult is a Filter's verdict on one part.
type FilterResult struct {
	kind     filterDecision
	key, val []byte
}

// Keep fetches the part.
func Keep() FilterResult { return FilterResult{kind: decideKeep} }

// Discard skips the part: none of its rows can matter to the consumer.
func Discard() FilterResult { return FilterResult{kind: decideDiscard} }

// ReplaceWith stands the part in with one row (key, val) at as_of whose diff
// is the sum of the part's diffs, without fetching it. It is honoured only
// for a snapshot part wholly at or before as_of (otherwise the part is
// kept): only then are all its rows read at as_of, so that the single row
// sums them exactly; and only if that sum fits an int64
// (persist.PartDesc.DiffsSumExact). A part whose diffs sum to zero is
// discarded instead: emitted rows never carry a zero diff.
func ReplaceWith(key, val []byte) FilterResult {
	return FilterResult{kind: decideReplace, key: key, val: val}
}

// Filter decides, from a part's description (its statistics: time range,
// key bounds, rows, bytes, diffs sum) and the frontier the part is read at,
// what to do with it. That frontier is the source's as_of for a part of the
// snapshot, and for a part of a later batch the source's frontier when the
// batch arrived (the batch's lower, not the as_of): in both cases every row
// of the part the source emits is at a time at or beyond it. It runs on the
// listen goroutine. A part of a format this code cannot read
// (persist.PartDesc.FormatKnown) is not given to it: it is kept, and its
// fetch fails, rather than be decided on statistics that may mean
// something else.
type Filter func(part persist.PartDesc, readAt frontier.Antichain[frontier.Time]) FilterResult

// ErrorHandler says what the source does when a part cannot be fetched (its
// blob is missing or corrupt) or the listen side fails (the as_of is before
// the since, the reader expired, consensus failed).
type ErrorHandler struct {
	signal func(error)
}

// Halt panics on the worker with the error (Execute reports it as a
// *dataflow.PanicError), after stopping the source's goroutines on every
// worker of the process and expiring its reader: Execute then aborts the
// other workers without running their operators again, so they could not
// stop theirs. It is the default.
func Halt() ErrorHandler { return ErrorHandler{} }

// Signal calls fn with the error, on the worker's goroutine, and freezes the
// source on every worker of the process: nothing more is emitted at the
// failed part's time or after it, and those times keep their capabilities,
// so the output frontier reaches that time and stays there until the
// source is shut down.
// fn must not be nil: Signal(nil) panics, as it would otherwise mean Halt.
func Signal(fn func(error)) ErrorHandler {
	if fn == nil {
		panic("shardsource: Signal(nil): the errors would go nowhere (Halt is the handler that stops)")
	}
	return ErrorHandler{signal: fn}
}

// Options configure a Source. Zero fields take the defaults.
type Options[K, V any] struct {
	// AsOf is the time the source reads the shard at; nil means the
	// reader's since when it registers (the shard's since when the source
	// opens it, if Unregistered). The empty antichain reads nothing.
	AsOf *frontier.Antichain[frontier.Time]
	// Snapshot: include the contents at as_of (default) or only the
	// changes after it.
	Snapshot SnapshotMode
	// Until suppresses every update at a time at or beyond it; once the
	// shard's upper passes it the source's frontier becomes empty. The
	// empty antichain (default) reads forever.
	Until frontier.Antichain[frontier.Time]
	// DescTransformer, if not nil, is interposed between the descs and the
	// fetch operator (flow control, say). It receives the chosen worker's
	// index. It may hold descs back and change where they go (Worker), but
	// must send each at the time it received it: a part's lease is
	// released once the fetches at that time are done, so a desc sent on
	// at a later time could be fetched after GC took its blob. A desc
	// carries that time unexported, so one sent on must be the one
	// received (a copy, changed or not), not a Desc built anew. A desc that
	// reaches the fetch operator at another time is not fetched: the
	// source fails there with ErrDescRetimed (see ErrorHandler).
	DescTransformer func(s *dataflow.Scope[frontier.Time], descs *dataflow.Stream[frontier.Time, Desc], chosen int) *dataflow.Stream[frontier.Time, Desc]
	// KeyCodec and ValCodec decode the rows of fetched parts (Part.Decode).
	KeyCodec codec.Codec[K]
	ValCodec codec.Codec[V]
	// Filter pushes a predicate down to the parts' statistics. Nil keeps
	// every part.
	Filter Filter
	// StartSignal, if not nil, is awaited after the reader is registered
	// and before as_of is resolved (so a since that moves meanwhile is
	// read after it); an Unregistered source opens its reader only after
	// it, since that reader learns the since when it opens.
	StartSignal <-chan struct{}
	// ErrorHandler defaults to Halt.
	ErrorHandler ErrorHandler
	// FetchConcurrency is how many fetch goroutines each worker brings
	// (default 4). The workers of one process pool them: a worker with
	// nothing left to fetch lends its goroutines to one that has, so up to
	// FetchConcurrency times the process's workers parts are fetched at
	// once. One worker's parts take at most ResultBuffer+FetchConcurrency
	// of them, less the fetched parts waiting for the worker: a worker that
	// does not take its results (busy, or shutting down while others are
	// not) can hold back no more than its own goroutines.
	// At most MaxFetchConcurrency.
	FetchConcurrency int
	// ResultBuffer is the capacity of the channel fetched parts wait in for
	// each worker's fetch operator (default FetchConcurrency), as the bytes
	// of their blobs (the operator decodes a part as it takes it), or
	// decoded when a fetch goroutine had nothing else to do or found the
	// operator behind (not having taken the part before): a part decoded
	// holds its blob's bytes and its decoded columns. At most
	// (ResultBuffer+FetchConcurrency) times the process's workers fetched
	// parts exist in the process, besides those the operators are
	// decoding and emitting.
	// At most MaxFetchConcurrency.
	ResultBuffer int
	// ListenRetry bounds the backoff with which the listen goroutine polls
	// for new batches when nothing wakes it (a write through the same
	// client, or a consensus notification, wakes it at once). Zero fields
	// keep the client's ListenPollMin and ListenPollMax, moved if need be
	// to let the field given stand (persist.ReadHandle.SetPollBackoff):
	// Max 5ms alone polls from 5ms up to 5ms.
	ListenRetry ListenRetry
	// HeartbeatInterval is how often the listen goroutine heartbeats the
	// reader while it waits (default 1 minute), and at most a third of the
	// client's lease duration, whatever it says.
	HeartbeatInterval time.Duration
	// ExpireTimeout bounds the reader's expiry at shutdown (default 30s).
	ExpireTimeout time.Duration
	// Logger receives the failures no operator waits for, so that
	// ErrorHandler never sees them: a heartbeat of the reader that failed
	// (it is tried again at the next one), and the reader's expiry at
	// shutdown that failed (the reader then holds the shard's since and
	// its parts' blobs until its lease runs out). Nil means slog.Default().
	Logger *slog.Logger
	// Unregistered reads the shard without registering a reader
	// (persist.Client.OpenUnregisteredReader), so that the source writes
	// nothing to the shard's state: it reads a location opened read-only
	// (persist.DefaultLocationReadOnly). Nothing then holds the shard's
	// since or the parts' blobs for the source. Where another process
	// writes and collects the location, the since may pass the source's
	// frontier or a part be collected before it is fetched; the source
	// then fails (see ErrorHandler) with a *persist.SinceAdvancedError or
	// a *persist.BlobMissingError. Where nothing else writes, neither can
	// happen.
	Unregistered bool
}

// ListenRetry is a capped exponential backoff: the first wait is Initial,
// each further one doubles, up to Max; finding data starts over at Initial.
type ListenRetry struct {
	Initial, Max time.Duration
}

// MaxFetchConcurrency bounds Options.FetchConcurrency and ResultBuffer:
// each worker starts that many goroutines, and makes a channel that many
// parts long, when its source starts.
const MaxFetchConcurrency = 1 << 14

// withDefaults fills in the zero fields. It panics on a value no default
// can stand for, which is a programming error like a nil Scope.
func (o Options[K, V]) withDefaults() Options[K, V] {
	if o.Snapshot != SnapshotInclude && o.Snapshot != SnapshotExclude {
		panic(fmt.Sprintf("shardsource: Options.Snapshot is %d, neither SnapshotInclude nor SnapshotExclude", o.Snapshot))
	}
	if o.FetchConcurrency <= 0 {
		o.FetchConcurrency = 4
	}
	if o.ResultBuffer <= 0 {
		o.ResultBuffer = o.FetchConcurrency
	}
	if o.FetchConcurrency > MaxFetchConcurrency || o.ResultBuffer > MaxFetchConcurrency {
		// Each worker starts its goroutines and makes its channel up
		// front: far beyond this they exhaust memory, or fail in make.
		panic(fmt.Sprintf("shardsource: Options.FetchConcurrency %d and ResultBuffer %d: each must be at most %d",
			o.FetchConcurrency, o.ResultBuffer, MaxFetchConcurrency))
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = time.Minute
	}
	if o.ExpireTimeout <= 0 {
		o.ExpireTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.AsOf != nil {
		// The listen goroutine reads it later: the caller's may change.
		asOf := o.AsOf.Clone()
		o.AsOf = &asOf
	}
	o.Until = o.Until.Clone()
	return o
}

// ClientFunc returns the persist client the source reads with. The listen's
// retry backoff while it waits for another process's write is that client's
// (persist.ClientOptions.ListenPollMin and ListenPollMax). It is called
// on the source's goroutines (once per worker for fetching, once on the
// chosen worker for listening); returning the same *persist.Client each time
// is usual.
type ClientFunc func(ctx context.Context) (*persist.Client, error)

// Error is how the source reports a failure to the ErrorHandler: which
// source, which stage, where it stops the source, and the cause (errors.Is
// with persist.ErrBlobMissing, persist.ErrBlobCorrupt,
// persist.ErrSinceAdvanced, ... works through it).
type Error struct {
	Source string
	Stage  string // "listen" or "fetch"
	// Time is where the failure holds the source's frontier: the time of
	// the part a fetch failed for, or the listen's frontier. With several
	// failures, the frontier stops at the least of their times.
	Time frontier.Time
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("shardsource: %s: %s: %v", e.Source, e.Stage, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrDescRetimed is the cause of the Error a source fails with when its
// DescTransformer sent a desc on at another time than it received it at.
var ErrDescRetimed = errors.New("shardsource: a DescTransformer sent a desc at another time than it was listed at")
