// Package tests holds shardflow's cross-package tests: the architecture's
// dependency rules, and integration tests that span packages. Benchmarks
// that span packages live in tests/bench.
package tests
