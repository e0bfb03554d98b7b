// Package bench measures shardflow against plain-Go baselines and reports
// the figures as a table or as JSON. It is the library behind
// `shardflow bench` and the `go test -bench` benchmarks of this directory.
//
// Run runs the measures named in Config.Only (all by default) and returns a
// Report: the settings it ran with and one Row per figure, with the
// shardflow figure, the baseline figure, their ratio, the goal and whether
// it was met. Each figure is the median of Config.Runs runs after one
// warm-up run; where a measure compares variants (P1, P3) they run
// interleaved, round by round, so a change of load falls on all alike.
// Every replay's row count is checked against the rows written: a measure
// that computes a wrong answer fails with ErrWrongResult instead of
// reporting a figure.
//
// The measures:
//
//   - P1 replay throughput (rows/s and MB/s of part blobs): a generated
//     shard (Rows rows of 16-byte keys and 16-byte values in Parts parts,
//     file blob and SQLite consensus in a temporary directory) replayed
//     through shardsource.Source with 1 and 2 workers, FetchConcurrency 1
//     per worker, against the same read through persist's API with no
//     dataflow: a leased reader's Snapshot, the parts' fetches, Expire. Two
//     such loops run interleaved with the replay, and the faster is the
//     baseline: one goroutine per worker calling FetchLeased (read,
//     checksum, decode, filter) part after part, and the replay's own
//     division of work, per worker a reader goroutine calling
//     FetchEncodedLeased that hands parts to a decoding goroutine. A
//     1-worker replay uses two cores, its fetch goroutine's and its
//     worker's, so only the second loop matches it core for core; the note
//     gives each one's wall and CPU time. Judged on rows/s with the goal
//     ratio >= 0.9. A third row compares with what a Go user would write
//     with arrow-go (Get and its Parquet file reader with typed column
//     readers, no checksum), run apart and not like for like.
//   - P2 effective fetch concurrency: the same shard behind a blob whose Get
//     waits Latency, replayed on one worker at FetchConcurrency 1, 8 and 32;
//     the ratio is the throughput as a multiple of FetchConcurrency 1. Goal:
//     within 10% of linear (capped at the number of parts). The note gives
//     the replay time with no latency, which bounds any multiple, and a row
//     per concurrency gives what a plain fetch loop on as many goroutines
//     reaches through the same blob.
//   - P3 runtime overhead (ns per record): Records uint64s in batches of
//     1024 through 10 Map operators on one worker, stepped per batch,
//     against a plain loop (goal: ratio <= 1.5); and, as a goroutine per
//     stage joined by channels runs on every core, the same chain on as
//     many workers as GOMAXPROCS, each over its share of the records,
//     against that pipeline (goal: ratio < 1). A third row, not judged,
//     sets the one worker against the pipeline. Notes give CPU time too.
//   - P4 idle overhead: one Step of a worker holding a chain of 1000 idle
//     Map operators, per operator. Goal: < 10 ns. No baseline.
//   - P5 write-to-visible latency (p50, p99 in ms): from the start of a
//     single-row CompareAndAppend until a Listen returns its parts, over
//     Writes writes with the listener in the same process and, with
//     Config.ListenerCommand, OtherWrites writes with the listener in
//     another process; on SQLite and, with Config.PostgresURL, on
//     PostgreSQL consensus. The baseline is the write call itself, which
//     includes the automatic merge that follows some writes once they are
//     visible, so it is no lower bound. Goal: p50 < 2 ms in process.
//   - P6 memory: the peak of runtime/metrics
//     /memory/classes/heap/objects:bytes, sampled every millisecond, while
//     one worker replays a shard of at least 4M rows in 256 parts (about
//     150 MiB of parts, over fifty times its fetch memory budget:
//     FetchConcurrency 1 plus ResultBuffer 1 fetched parts of the largest
//     size, blob bytes plus decoded bytes). The baseline is budget + 64
//     MiB, so the goal is ratio < 1; the peak is the whole heap's, so what
//     the process held before counts against it. A control row fetches
//     and holds every part at once, which must exceed the limit: a shard
//     smaller than the 64 MiB slack could never fail the goal.
//
// Ratios are shardflow divided by baseline: for throughputs higher is
// better, for times lower; each row's Goal says which. Figures from a loaded
// machine are not comparable with figures from an idle one (Settings records
// the cores and Go version). PERFORMANCE.md, beside this file, keeps the
// figures of earlier commits and what each change to a hot path did.
//
// # Wiring a command
//
// A command maps its flags onto Config (--rows, --parts, --latency, --quick,
// --runs, --only P1,P3), passes os.Stderr as Progress, and writes the
// report with WriteTable, or WriteJSON for --json. For P5's other process
// it sets ListenerCommand to re-run its own binary in a hidden mode that
// calls ServeListener with the given URLs and its standard input and
// output. The Go benchmarks take -rows, -parts, -latency, -records and
// -writes flags:
//
//	go test -run '^$' -bench . -count 6 ./tests/bench -rows 200000 | tee new.txt
//	benchstat old.txt new.txt
package bench
