//go:build !invariants

package part

// poisonFreed says whether poolAllocator overwrites the buffers it is given
// back (build tag invariants), so that a use after free reads garbage.
const poisonFreed = false
