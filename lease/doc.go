// Package lease accounts for holds on a shard's state versions.
//
// A reader of a shard may only let its SeqNo hold advance once nothing it
// handed out can still need an older state version. Every part it hands out
// therefore carries a Lease on the SeqNo it was read at, and the hold may
// pass that SeqNo only after the lease is Released.
//
// A Lease is a counted hold: New makes the first handle, Clone a further
// one, and each handle is released once by whoever owns it. The hold ends
// when the last handle is released; then Released is true and the callback
// given to NewWithCallback runs exactly once. Releasing a handle twice is
// harmless (the second call does nothing), and a released handle cannot be
// cloned, so a hold that ended never comes back. Leases may be cloned and
// released from any goroutine.
//
// A Manager parks leases at timestamps for an operator that may release a
// part's lease only once every fetch at the part's time has completed:
// PushAt(t, lease) parks it, and AdvanceTo(frontier) releases every lease at
// a time the frontier has passed (no element of the frontier is <= the
// time). The frontier given to AdvanceTo may stall or even move back; that
// releases nothing new and never un-releases anything. The empty frontier
// releases everything. A Manager belongs to one goroutine.
package lease
