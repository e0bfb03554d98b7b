// Package replay runs a source stream in a dataflow and prints what it
// captures, which is the engine of `shardflow replay`.
//
// Run starts Config.Workers workers. Each builds the same dataflow: the
// source (Config.Build) and a Capture of its output into a per-worker event
// link. The calling goroutine reads the links, keeps the stream's frontier as
// the sum of every worker's captured progress, and buffers updates by time.
// Each time the frontier advances it prints the updates whose own times it
// passed (a source may carry an update in a message at an earlier time, as
// the shard source sends a part's rows at its batch's lower), consolidated and sorted (see render.Consolidate), then the new
// frontier. So the updates printed are the same for any number of workers,
// and an update is printed only once its time is complete. The frontier
// lines are where Run saw the frontier move: advances it reads together
// print as one, so they may differ between runs and worker counts.
//
// Run ends in one of three ways:
//
//   - The stream completes (its frontier becomes empty): every update and
//     the frontier [] have been printed. Run returns nil.
//   - ctx is cancelled (SIGINT in --follow): Run stops printing, presses the
//     source's shutdown tokens, waits for every worker to finish (so the
//     source releases its reader), and returns nil.
//   - The source reports a data error through the fail callback and freezes
//     its frontier. Run keeps printing until the dataflow is quiescent (every
//     worker parked with nothing to do, having run every activation sent to
//     it, its source settled per Config.Settled — no fetch still running,
//     however slow — and no message between workers, twice in a row with no
//     step in between),
//     prints the error with the frozen frontier, shuts the dataflow down and
//     returns a *FrozenError.
package replay
