// Package shardsource streams a persist shard into a dataflow.
//
// Source(scope, name, client, shard, options) returns a stream of *Part, the
// fetched parts of the shard, and the Tokens that shut the source down. A
// Part's rows are (key, val, time, diff): Key and Val return slices into the
// decoded part (no copy), Decode turns a row into Go values with the
// options' codecs, and Release hands the buffers back once the consumer is
// done with the part. Every worker of the dataflow must build the source,
// with the same name and options.
//
// # What the stream holds
//
// Reading at as_of (Options.AsOf, or the reader's since when nil), the
// source emits the shard's contents at as_of with every row advanced to
// as_of (unless Options.Snapshot is SnapshotExclude), then every update
// after as_of, and suppresses updates at or beyond Options.Until. Its
// frontier moves to as_of at once, before the snapshot is available, and
// then follows the shard's upper; once the upper passes Until it is empty.
// Parts are emitted at the frontier at which the source learned of them
// (the snapshot's at as_of), so a row's time is at or after its message's
// time. When the frontier passes a time, every row at that time has been
// emitted.
//
// The source's reader moves its since up behind the source's progress, to
// the frontier before the last (after the parts below it are leased), so
// compaction can follow it: a since at the listen's own frontier would let
// a merge advance rows already emitted to where the listen reads next. A program
// that wants to read the shard again at an earlier time must hold the since
// with a reader of its own. With Options.Unregistered the source registers
// no reader and writes nothing, so it reads a location opened read-only; it
// then holds nothing either (see Options.Unregistered).
//
// A registered reader creates a shard that has no state yet, as
// persist.Client.OpenReader does: a source on a mistyped shard id reads a
// new, empty shard and waits for writes, with its frontier at as_of.
//
// # How it works
//
// The source is two operators and two kinds of goroutine.
//
// The descs operator exists on every worker, but only the chosen worker
// (ChosenWorker: a hash of the source's name modulo the number of workers)
// does anything: it runs the listen goroutine, which owns the leased
// reader, takes the snapshot, listens, applies Options.Filter to each part's
// statistics, assigns each part to the worker with the fewest bytes assigned
// so far, and sends the operator AsOf, Parts{ts, [(worker, part, lease)]},
// Progress(frontier) and Error events over a channel, waking it with a
// SyncActivator. The operator downgrades its capability to follow, parks
// each lease at its time and emits the parts, exchanged to their workers.
// Its second, disconnected input is the completed-fetches feedback edge: as
// its frontier passes a time the leases parked there are released, and when
// it is empty the listen goroutine is stopped and the reader expired.
//
// The fetch operator hands each part, tagged with the time of the
// capability it arrived at, to the fetch goroutines, which return results
// in completion order over the operator's channel of Options.ResultBuffer.
// Each worker brings Options.FetchConcurrency goroutines, and the workers
// of a process pool them: a goroutine takes the next part of the worker
// with the most parts waiting and delivers it to that worker, so the
// workers finish their fetches together. A worker's parts fetched or being
// fetched but not yet taken by its operator are capped at
// ResultBuffer+FetchConcurrency, so no more than that times the workers
// fetched parts are held in the process, and a worker that does not take
// its results holds back no more than its own goroutines. The operator
// counts fetches in flight per time, holding for each time a data
// capability and a completed-fetches capability; a result is emitted at its
// time, and when a time's count reaches zero both capabilities are dropped,
// which advances the output and releases the leases. Results are never
// matched to capabilities by arrival order.
//
// The goroutines do the I/O and the workers the CPU work: a goroutine reads
// a part's blob (persist's FetchEncoded), and the operator, on its worker,
// verifies its checksum, decodes it and selects its rows (EncodedPart's
// Decode) as it takes it. So a worker decodes one part while its goroutines
// read the next. A goroutine that could take no part after its read (none
// is waiting, or the worker has not taken the ones fetched for it) decodes
// its part itself instead of waiting: the last parts of a burst of slow
// reads are decoded on every core, not on the one worker, and a worker
// that is behind gets help. A part that fails to decode, wherever, freezes
// the source as a failed read does. A Desc whose Replacement stands in for
// its part is emitted by the operator at once, with nothing fetched.
//
// # Errors
//
// A missing or corrupt blob, or a failure on the listen side (an as_of
// before the since, an expired reader, a consensus failure), is reported as
// an *Error to the ErrorHandler. Halt (the default) stops the source's
// goroutines on every worker of the process, expiring its reader, and
// panics on the worker. Signal calls a function and freezes the source on
// every worker of the process: the failed time and every later one keep
// their capabilities and nothing more is emitted there (parts listed there
// afterwards are not fetched, and their leases go at once), while earlier
// times still complete, so the output frontier reaches the failed part's
// time and stays there until the source is shut down. Two failures stop
// nothing, so they go to Options.Logger instead: a heartbeat of the reader
// that failed (tried again at the next), and the reader's expiry at
// shutdown that failed (the reader then holds the shard's since and blobs
// until its lease runs out).
//
// # Shutdown
//
// Tokens.Drop presses the operators' two-phase shutdown buttons. While only
// some workers have pressed, every pressed instance keeps its capabilities
// and drains nothing, so the frontier cannot pass data an unpressed worker
// still holds. Once every worker has pressed, the fetch goroutines are
// stopped (no fetch is in flight afterwards), every capability is dropped,
// and then the listen goroutine is stopped and the reader expired: the
// reader outlives every fetch. Nothing the source started outlives its
// dataflow: if a panic anywhere aborts Execute, the source's operators run
// no more, and its goroutines are stopped and its reader expired when the
// workers let go of it (dataflow.Shared closes it), before Execute returns.
package shardsource
