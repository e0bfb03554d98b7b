package lease

import (
	"fmt"
	"sync/atomic"
)

// SeqNo numbers the versions of a shard's state; a lease holds one. persist's
// location.SeqNo is this type.
type SeqNo uint64

// Lease is one holder's handle on a counted hold of a SeqNo. Every handle
// returned by New or Clone is released exactly once by its holder; when the
// last handle is released the hold ends: Released reports true on every
// handle and the callback given to NewWithCallback runs, once.
//
// Release of a handle that is already released does nothing, so a holder
// may release on every path without tracking whether it already did. A
// released handle cannot be cloned (Clone panics): a hold that has ended
// must not come back.
//
// Each handle is used by one goroutine at a time (clone it to hand the hold
// to another goroutine); different handles on the same hold may be released
// concurrently from any goroutines, and the hold ends exactly once.
type Lease struct {
	h *hold
	// released is set by the first Release of this handle; it makes the
	// handle's share of h.count drop exactly once.
	released atomic.Bool
}

// hold is what all clones of a lease share.
type hold struct {
	seqno     SeqNo
	onRelease func(SeqNo)
	// count is the number of handles not yet released. It only reaches zero
	// once: no handle is created from a released one.
	count atomic.Int64
	// done is set, before onRelease runs, by the Release that brings count
	// to zero.
	done atomic.Bool
}

// New returns the first handle on a hold of seqno.
func New(seqno SeqNo) *Lease { return NewWithCallback(seqno, nil) }

// NewWithCallback is New with a callback that runs exactly once, on the
// goroutine of the Release that ends the hold, after Released turns true. A
// nil onRelease is allowed.
func NewWithCallback(seqno SeqNo, onRelease func(SeqNo)) *Lease {
	h := &hold{seqno: seqno, onRelease: onRelease}
	h.count.Store(1)
	return &Lease{h: h}
}

// SeqNo returns the SeqNo held.
func (l *Lease) SeqNo() SeqNo { return l.h.seqno }

// Clone returns a new handle on the same hold, which keeps the hold alive
// until it too is released. It panics if l has been released: the caller no
// longer owned a share of the hold to lend.
func (l *Lease) Clone() *Lease {
	if l.released.Load() {
		panic(fmt.Sprintf("lease: Clone of a released handle on seqno %d", l.h.seqno))
	}
	l.h.count.Add(1)
	return &Lease{h: l.h}
}

// Release drops this handle's share of the hold. The first call on a handle
// counts; later calls on the same handle do nothing.
func (l *Lease) Release() {
	if !l.released.CompareAndSwap(false, true) {
		return
	}
	switch n := l.h.count.Add(-1); {
	case n == 0:
		l.h.done.Store(true)
		if l.h.onRelease != nil {
			l.h.onRelease(l.h.seqno)
		}
	case n < 0:
		panic(fmt.Sprintf("lease: hold on seqno %d released %d times too often", l.h.seqno, -n))
	}
}

// IsReleased reports whether this handle has been released (the hold may
// still be alive through clones).
func (l *Lease) IsReleased() bool { return l.released.Load() }

// Count returns the number of handles on the hold not yet released.
func (l *Lease) Count() int { return int(l.h.count.Load()) }

// Released reports whether the hold has ended: every handle was released.
func (l *Lease) Released() bool { return l.h.done.Load() }

// String formats the lease for diagnostics.
func (l *Lease) String() string {
	return fmt.Sprintf("lease(seqno=%d, holders=%d)", l.h.seqno, l.Count())
}
