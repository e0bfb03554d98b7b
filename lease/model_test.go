package lease_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
	"github.com/shardflow/shardflow/persist/location"
)

// modelHandle is one handle as the model sees it.
type modelHandle[T any] struct {
	l        *lease.Lease
	hold     int  // index into holds
	released bool // the handle's Release has counted
	parked   bool // owned by the manager, at time at
	at       T
}

// leaseModel drives a Manager and its leases with random operations and
// checks every observable against plain counting: holders per hold, leases
// parked, callbacks run.
type leaseModel[T frontier.Timestamp[T]] struct {
	m       *lease.Manager[T]
	handles []*modelHandle[T]
	holds   []int // live handles per hold
	calls   []int // callbacks run per hold
	time    func(*rapid.T, string) T
	front   func(*rapid.T) frontier.Antichain[T]
}

func (s *leaseModel[T]) newLease(t *rapid.T) {
	i := len(s.holds)
	s.holds = append(s.holds, 1)
	s.calls = append(s.calls, 0)
	l := lease.NewWithCallback(location.SeqNo(i), func(seq location.SeqNo) {
		if int(seq) != i {
			t.Fatalf("callback for hold %d got seqno %d", i, seq)
		}
		s.calls[i]++
	})
	s.handles = append(s.handles, &modelHandle[T]{l: l, hold: i})
}

// owned returns the handles the test itself holds (not parked), optionally
// only those not yet released.
func (s *leaseModel[T]) owned(live bool) []*modelHandle[T] {
	var out []*modelHandle[T]
	for _, h := range s.handles {
		if !h.parked && (!live || !h.released) {
			out = append(out, h)
		}
	}
	return out
}

func (s *leaseModel[T]) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"new": s.newLease,
		"clone": func(t *rapid.T) {
			hs := s.owned(true)
			if len(hs) == 0 {
				t.Skip("no live handle")
			}
			h := rapid.SampledFrom(hs).Draw(t, "h")
			s.handles = append(s.handles, &modelHandle[T]{l: h.l.Clone(), hold: h.hold})
			s.holds[h.hold]++
		},
		"release": func(t *rapid.T) {
			hs := s.owned(false) // already released ones too: must be a no-op
			if len(hs) == 0 {
				t.Skip("no handle")
			}
			h := rapid.SampledFrom(hs).Draw(t, "h")
			h.l.Release()
			s.modelRelease(h)
		},
		"push": func(t *rapid.T) {
			hs := s.owned(true)
			if len(hs) == 0 {
				t.Skip("no live handle")
			}
			h := rapid.SampledFrom(hs).Draw(t, "h")
			h.parked, h.at = true, s.time(t, "at")
			s.m.PushAt(h.at, h.l)
		},
		"advance": func(t *rapid.T) {
			f := s.front(t)
			s.m.AdvanceTo(f)
			for _, h := range s.handles {
				if h.parked && !f.LessEqual(h.at) {
					s.modelRelease(h)
				}
			}
		},
		"": s.check,
	}
}

func (s *leaseModel[T]) modelRelease(h *modelHandle[T]) {
	if !h.released {
		h.released = true
		s.holds[h.hold]--
	}
}

func (s *leaseModel[T]) check(t *rapid.T) {
	parked := 0
	for _, h := range s.handles {
		if h.parked && !h.released {
			parked++
		}
		if got, want := h.l.Count(), s.holds[h.hold]; got != want {
			t.Fatalf("hold %d: Count = %d, model %d", h.hold, got, want)
		}
		if got, want := h.l.Released(), s.holds[h.hold] == 0; got != want {
			t.Fatalf("hold %d: Released = %v, model %v", h.hold, got, want)
		}
		if got := h.l.IsReleased(); got != h.released {
			t.Fatalf("handle of hold %d: IsReleased = %v, model %v", h.hold, got, h.released)
		}
	}
	if s.m.Len() != parked {
		t.Fatalf("Len = %d, model %d", s.m.Len(), parked)
	}
	for i, c := range s.calls {
		want := 0
		if s.holds[i] == 0 {
			want = 1
		}
		if c != want {
			t.Fatalf("hold %d: callback ran %d times, want %d", i, c, want)
		}
	}
}

func TestModelTotalOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		time := func(t *rapid.T, label string) frontier.Time {
			return frontier.Time(rapid.Uint64Range(0, 20).Draw(t, label))
		}
		s := &leaseModel[frontier.Time]{
			m:    lease.NewManager[frontier.Time](),
			time: time,
			front: func(t *rapid.T) frontier.Antichain[frontier.Time] {
				if rapid.IntRange(0, 9).Draw(t, "empty") == 0 {
					return frontier.Antichain[frontier.Time]{}
				}
				return frontier.From(time(t, "frontier"))
			},
		}
		s.newLease(t)
		t.Repeat(s.actions())
	})
}

func TestModelPartialOrder(t *testing.T) {
	type P = frontier.Product[frontier.Time, frontier.Time]
	rapid.Check(t, func(t *rapid.T) {
		time := func(t *rapid.T, label string) P {
			return frontier.NewProduct(frontier.Time(rapid.Uint64Range(0, 5).Draw(t, label+".outer")),
				frontier.Time(rapid.Uint64Range(0, 5).Draw(t, label+".inner")))
		}
		s := &leaseModel[P]{
			m:    lease.NewManager[P](),
			time: time,
			front: func(t *rapid.T) frontier.Antichain[P] {
				var f frontier.Antichain[P]
				for i := range rapid.IntRange(0, 3).Draw(t, "elements") {
					f.Insert(time(t, "element"+string(rune('0'+i))))
				}
				return f
			},
		}
		s.newLease(t)
		t.Repeat(s.actions())
	})
}
