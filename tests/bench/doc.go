// Package bench measures shardflow against plain-Go baselines and reports
// the figures as a table or as JSON. It is the library behind
// `shardflow bench` and the `go test -bench` benchmarks of this directory.
//
// Run runs the measures named in Config.Only (all by default) and returns a
// Report with one Row per figure: the shardflow figure, the baseline figure,
// their ratio, the goal and whether it was met. Each figure is the median of
// Config.Runs runs after one warm-up run.
//
// The measures:
//
//   - P1 replay throughput: a generated shard (Rows rows of 16-byte keys and
//     16-byte values in Parts parts, file blob and embedded consensus in a
//     temporary directory) replayed through shardsource.Source with 1 and 2
//     workers (FetchConcurrency 1 per worker, so shardflow decodes on as many
//     goroutines as the baseline), against reading the same part blobs and
//     decoding their columns with arrow-go's Parquet file reader in a plain
//     loop on as many goroutines. The replay's row count is checked against
//     the rows written.
//   - P2 effective fetch concurrency: the same shard read through a blob that
//     waits Latency before every Get, at FetchConcurrency 1, 8 and 32 on one
//     worker; the ratio is the throughput as a multiple of FetchConcurrency 1.
//   - P3 runtime overhead: Records uint64s in batches of 1024 through 10 Map
//     operators on one worker, against a plain loop and against a
//     goroutine-per-stage channel pipeline (ns per record; lower is better).
//   - P4 idle overhead: one Step of a worker holding 1000 idle operators,
//     per operator.
//   - P5 write-to-visible latency: from the start of a CompareAndAppend to a
//     persist Listen in the same process returning its parts, p50 and p99
//     over Writes writes; the baseline is the write call's own latency.
//   - P6 memory: the peak of runtime/metrics /memory/classes/heap/objects:bytes
//     while one worker replays a shard at least ten times larger than the
//     fetch memory budget, (FetchConcurrency + ResultBuffer) parts of the
//     largest size, blob bytes plus decoded bytes.
//
// Ratios are shardflow divided by baseline. For throughputs higher is better,
// for times lower is better; each row's Goal says which. The machine matters:
// figures from a loaded machine are not comparable with figures from an idle
// one.
package bench
