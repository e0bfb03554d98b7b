// Package tests holds shardflow's cross-package tests.
//
//   - deps_test.go enforces the architecture's dependency arrows: no package
//     imports one of ours against the table in ARCHITECTURE.md.
//   - multiprocess_test.go runs the shardflow binary as separate processes
//     over PostgreSQL consensus and an S3-compatible blob store (an
//     in-process fake S3 server): a `replay --follow` process sees every
//     write made by other processes and shuts down cleanly on SIGINT;
//     racing writers, exactly one wins.
//   - crash_test.go SIGKILLs a writer process between its part upload and
//     its commit: nothing acknowledged is lost and the janitor reaps exactly
//     the orphan, only once it is older than the minimum age.
//   - visible_test.go measures write-to-visible latency for a listener in
//     another process, with PostgreSQL notifications and with polling only
//     (BenchmarkWriteToVisible; SHARDFLOW_VISIBLE_WRITES sets the count).
//
// PostgreSQL comes from SHARDFLOW_POSTGRES_URL or a throwaway cluster started
// from the installed binaries (the tests skip, loudly, without them).
// Benchmarks that span packages, and `shardflow bench`, live in tests/bench.
package tests
