//go:build invariants

package state

// InvariantsEnabled says whether expensive self-checks run (build tag
// invariants).
const InvariantsEnabled = true
