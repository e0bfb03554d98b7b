// Package testseed gives a randomized test its seed: a new one each run,
// printed with how to replay it, or the one the -seed flag names.
package testseed

import (
	"flag"
	"math/rand/v2"
	"testing"
)

var seed = flag.Uint64("seed", 0, "seed of the randomized tests that take theirs from testseed (0: a new one each run)")

// New returns the -seed flag's value, or a new random seed if it is 0, and
// logs it with the command line that replays it (the package first: the
// go command takes a flag it does not know, -seed, and what follows it,
// for the test binary's).
func New(t testing.TB) uint64 {
	t.Helper()
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (replay: go test PACKAGE -run '^%s$' -seed=%d)", s, t.Name(), s)
	return s
}
