// Package state is the pure state machine of a shard: the State of one
// consensus version, the transitions between versions, and their durable,
// forward-compatible encoding.
//
// A transition is a method that takes a State by value and returns the next
// one; it never modifies its receiver and does no I/O, so the machine that
// commits transitions by compare-and-set can retry one on a lost race by
// simply running it again on the newer state. Expensive invariant checks run
// on every Encode when built with the invariants tag.
//
// Encoding (codec.go) is protocol buffers (statepb). Fields this code does
// not know are kept on every struct and written back; part formats it does
// not know decode and are refused only by a fetch of such a part; state that
// sets min_reader_version above Version is refused with ErrIncompatible.
package state
