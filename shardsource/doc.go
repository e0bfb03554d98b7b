// Package shardsource streams a persist shard into a dataflow.
//
// The source is two operators and two goroutines.
//
// The descs operator exists on every worker, but only the chosen worker (a
// hash of the source's name modulo the number of workers) does anything: it
// runs the listen goroutine, which owns the leased reader, takes the
// snapshot, listens, filters parts by their statistics, assigns each part to
// the worker with the fewest bytes assigned so far, and sends the operator
// AsOf, Parts{ts, [(worker, part, lease)]}, Progress(frontier) and Error
// events over a channel, waking it with a SyncActivator. The operator
// downgrades its capability to follow, parks each lease at its time and
// emits the parts, exchanged to their workers. Its second, disconnected
// input is the completed-fetches feedback edge: as its frontier passes a time
// the leases parked there are released, and when it is empty the listen
// goroutine is stopped and the reader expired.
//
// The fetch operator hands each part, tagged with the time of the capability
// it arrived at, to its fetch goroutines, which fetch up to FetchConcurrency
// parts at once and return results in completion order over a bounded
// channel. The operator counts fetches in flight per time, holding for each
// time a data capability and a completed-fetches capability; a result is
// emitted at its time, and when a time's count reaches zero both
// capabilities are dropped, which advances the output and releases leases.
//
// A missing or corrupt blob, or an error on the listen side, is reported to
// the ErrorHandler and freezes the source: every capability is kept, nothing
// more is drained, and the output frontier stays at the failed part's time.
package shardsource
