// Package frontier is the vocabulary of progress: timestamps, antichains,
// change batches and mutable antichains.
//
// A Timestamp is partially ordered; its zero value is the minimum. Time
// (uint64) is the total order persist uses, and Product pairs two times under
// the product order for nested scopes.
//
// An Antichain is a frontier: the minimal elements of a set of times that may
// still appear. A time t may still appear at a frontier F iff F.LessEqual(t).
// The empty antichain is the final frontier: nothing more will appear.
// Frontiers are themselves ordered (LessEqual, Meet, Join).
//
// A ChangeBatch collects (time, diff) pairs and consolidates them lazily. A
// MutableAntichain is a counted multiset of times whose frontier is the
// minimal times with a positive count; UpdateIter reports how each batch of
// updates moved that frontier, which is how progress tracking propagates
// changes without recomputing from scratch. Counts may be transiently
// negative, because updates from different workers are not ordered with
// respect to each other.
//
// None of these types start goroutines or lock; each is owned by one
// goroutine at a time.
package frontier
