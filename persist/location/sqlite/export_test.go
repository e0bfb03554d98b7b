package sqlite

// OpenImmutable is openImmutable, for the external tests: the read-only
// fallback a process that cannot write the directory takes.
var OpenImmutable = openImmutable

// SetBeforeCommit makes f run just before each write transaction commits,
// until the test ends.
func SetBeforeCommit(t interface{ Cleanup(func()) }, f func()) {
	testHookBeforeCommit = f
	t.Cleanup(func() { testHookBeforeCommit = nil })
}
