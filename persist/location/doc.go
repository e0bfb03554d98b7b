// Package location defines where shards live: a Blob store of immutable parts
// and a Consensus log of state versions, the two interfaces every backend
// implements, and the error classification retries depend on.
//
// Backends live in subpackages and register a URL scheme with this package;
// Open opens a Blob or Consensus from a URL by its scheme. The conformance
// suites in persist/persisttest hold every backend to the contracts written
// on the interfaces here.
package location
