package lease_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/lease"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLeaseCounts(t *testing.T) {
	var calls []lease.SeqNo
	l := lease.NewWithCallback(9, func(s lease.SeqNo) { calls = append(calls, s) })
	if l.SeqNo() != 9 || l.Count() != 1 || l.Released() {
		t.Fatalf("new lease: %v released=%v", l, l.Released())
	}
	a := l.Clone()
	b := a.Clone()
	if a.SeqNo() != 9 || l.Count() != 3 {
		t.Fatalf("after two clones: %v", l)
	}
	a.Release()
	a.Release() // no-op
	if l.Count() != 2 || !a.IsReleased() || l.IsReleased() {
		t.Fatalf("after releasing one clone twice: %v", l)
	}
	l.Release()
	if l.Released() || len(calls) != 0 {
		t.Fatalf("hold ended with a holder left: %v, calls %v", l, calls)
	}
	b.Release()
	b.Release()
	l.Release()
	if !l.Released() || !a.Released() || l.Count() != 0 {
		t.Fatalf("after the last release: %v released=%v", l, l.Released())
	}
	if len(calls) != 1 || calls[0] != 9 {
		t.Fatalf("callback calls = %v, want [9]", calls)
	}
}

func TestCloneOfReleasedHandlePanics(t *testing.T) {
	l := lease.New(1)
	keep := l.Clone()
	l.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("Clone of a released handle did not panic")
		}
		if keep.Count() != 1 {
			t.Fatalf("refused Clone changed the count: %v", keep)
		}
		keep.Release()
	}()
	l.Clone()
}

// TestCallbackOnceUnderConcurrentRelease releases many handles of one hold,
// each several times, from many goroutines at once: the callback must run
// exactly once, after every handle is released. Run with -race.
func TestCallbackOnceUnderConcurrentRelease(t *testing.T) {
	const holders, repeats = 64, 3
	for round := range 20 {
		var calls atomic.Int32
		var remaining atomic.Int32
		remaining.Store(holders)
		l := lease.NewWithCallback(lease.SeqNo(round), func(lease.SeqNo) {
			if r := remaining.Load(); r != 0 {
				t.Errorf("callback ran with %d handles unreleased", r)
			}
			calls.Add(1)
		})
		handles := []*lease.Lease{l}
		for range holders - 1 {
			handles = append(handles, l.Clone())
		}
		var start, done sync.WaitGroup
		start.Add(1)
		for _, h := range handles {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				remaining.Add(-1)
				for range repeats {
					h.Release()
				}
			}()
		}
		start.Done()
		done.Wait()
		if n := calls.Load(); n != 1 {
			t.Fatalf("round %d: callback ran %d times, want 1", round, n)
		}
		if !l.Released() || l.Count() != 0 {
			t.Fatalf("round %d: %v released=%v", round, l, l.Released())
		}
	}
}

// TestCloneRacesRelease clones from some handles while other handles are
// released: as long as each cloner still holds its own handle, the hold may
// not end early.
func TestCloneRacesRelease(t *testing.T) {
	var calls atomic.Int32
	l := lease.NewWithCallback(1, func(lease.SeqNo) { calls.Add(1) })
	handles := []*lease.Lease{l}
	for range 31 {
		handles = append(handles, l.Clone())
	}
	var wg sync.WaitGroup
	for i, h := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				c := h.Clone()
				h.Release()
				if c.Released() {
					t.Errorf("hold ended while a clone was live")
				}
				c.Release()
				return
			}
			h.Release()
		}()
	}
	wg.Wait()
	if calls.Load() != 1 || !l.Released() {
		t.Fatalf("callback ran %d times, released=%v", calls.Load(), l.Released())
	}
}
