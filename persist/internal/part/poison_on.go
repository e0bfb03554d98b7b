//go:build invariants

package part

// poisonFreed says whether released buffers are overwritten (build tag
// invariants), so that a use after release reads garbage.
const poisonFreed = true
