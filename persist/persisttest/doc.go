// Package persisttest holds the conformance suites every persist storage
// backend must pass, and fault-injecting wrappers that other packages use to
// test how persist copes with a misbehaving environment.
//
// # Conformance
//
// TestBlob and TestConsensus run one subtest per contract written on
// location.Blob and location.Consensus. A backend's test calls them with a
// function that opens a new, empty store; the suite closes each store it
// opens, once, at the end of the subtest that opened it:
//
//	func TestConformance(t *testing.T) {
//		persisttest.TestConsensus(t, func(t *testing.T) location.Consensus {
//			return mem.NewConsensus()
//		})
//	}
//
// Beyond the text of the interfaces, the suites pin down these choices, which
// every backend in this module makes:
//
//   - CompareAndSet with a non-nil expected and next.SeqNo <= *expected does
//     not commit: it returns ExpectationMismatch or a determinate error
//     wrapping location.ErrSeqNoNotIncreasing (a caller bug), and nothing
//     changes.
//   - Truncate beyond the head, or of a key with no versions, is refused with
//     a determinate error wrapping location.ErrTruncateBeyondHead.
//   - Scan with limit <= 0 returns no versions.
//   - A value of zero length is stored and read back with ok=true.
//   - A call with an already cancelled context returns an error.
//   - Keys are made of the characters [A-Za-z0-9/._-]; consensus keys and
//     blob keys use no others.
//   - No blob key is a "directory" of another: "a" and "a/b" are never both
//     keys (a file system cannot hold a file and a directory of one name).
//
// # Fault injection
//
// Faults is a shared, seeded controller; NewFaultyBlob and
// NewFaultyConsensus wrap a store so that each operation may fail with an
// injected determinate error (the operation did not happen), an injected
// indeterminate error (the operation may or may not have happened: the
// wrapper flips a seeded coin and applies it or not), or be delayed. Faults
// can be random (SetRates, or SetOpRates for one operation) or scripted
// (FailNext); a scripted Corrupt makes a blob Get return a damaged value, to
// test checksum verification. With no faults configured the wrappers pass
// the conformance suites. WrapConsensus keeps location.Watcher when the
// wrapped store has it (Watch is not faulted).
//
// BenchmarkCompareAndSet and BenchmarkSet are shared benchmark bodies.
package persisttest
