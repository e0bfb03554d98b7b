package testseed

import "testing"

// New gives the flag's seed when one is set, and a new one per call when
// none is.
func TestNew(t *testing.T) {
	defer func(s uint64) { *seed = s }(*seed)
	*seed = 5
	if got := New(t); got != 5 {
		t.Fatalf("with -seed=5: %d", got)
	}
	*seed = 0
	if a, b := New(t), New(t); a == b {
		t.Fatalf("two new seeds are both %d", a)
	}
}
