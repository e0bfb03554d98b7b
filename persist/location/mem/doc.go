// Package mem is an in-memory location.Blob and location.Consensus, for tests
// and for demos that need no durability.
//
// It registers the scheme "mem" for both interfaces. The URL mem://NAME
// opens the store called NAME: every open of the same name in one process
// shares one store, which outlives the handles (closing a handle does not
// clear it), so one test can write through one handle, close it, and read
// through another. mem:// with no name opens a fresh private store. Import
// it for its side effect to make the scheme available:
//
//	import _ "github.com/shardflow/shardflow/persist/location/mem"
//
// NewBlob and NewConsensus return private stores directly. Values are copied
// on the way in and out, so callers may reuse their slices. Consensus
// implements location.Watcher: a compare-and-set through any handle of the
// store wakes the watchers of its key. A handle's operations fail with a
// determinate location.ErrClosed after Close; a cancelled context fails an
// operation determinately before it starts.
package mem
