package persisttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

// consensusConcurrentCAS races goroutines that each read the head and try to
// append a version after it, skipping ahead by a worker-specific gap (the
// contract allows gaps, and racing writers that pick different seqnos from
// one head must still not both win). Every head must be extended by exactly
// one winner, the stored log must be the chain of winners, and each
// version's data must be its winner's.
func consensusConcurrentCAS(t *testing.T, c location.Consensus) {
	const workers, target = 8, 120
	type win struct {
		worker   int
		expected *location.SeqNo
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins = map[location.SeqNo]win{} // next seqno -> who committed it, from what
		dups []string
	)
	for w := range workers {
		wg.Go(func() {
			for {
				head, ok, err := c.Head(t.Context(), "race")
				if err != nil {
					t.Errorf("worker %d: Head: %v", w, err)
					return
				}
				var expected *location.SeqNo
				next := location.SeqNo(1 + w%3)
				if ok {
					if head.SeqNo >= target {
						return
					}
					expected, next = seq(head.SeqNo), head.SeqNo+1+location.SeqNo(w%3)
				}
				res, err := c.CompareAndSet(t.Context(), "race", expected, vd(next, fmt.Sprintf("w%d", w)))
				if err != nil {
					t.Errorf("worker %d: CompareAndSet: %v", w, err)
					return
				}
				if res == location.Committed {
					mu.Lock()
					if prev, dup := wins[next]; dup {
						dups = append(dups, fmt.Sprintf("seqno %d won by %d and %d", next, prev.worker, w))
					}
					wins[next] = win{w, expected}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(dups) > 0 {
		t.Fatalf("seqnos won twice: %v", dups)
	}
	vs, err := c.Scan(t.Context(), "race", 0, 4*target)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(wins) {
		t.Fatalf("%d versions stored, %d wins recorded", len(vs), len(wins))
	}
	for i, v := range vs {
		w, ok := wins[v.SeqNo]
		if !ok {
			t.Fatalf("version %d (seqno %d) was won by nobody", i, v.SeqNo)
		}
		if want := fmt.Sprintf("w%d", w.worker); string(v.Data) != want {
			t.Fatalf("seqno %d holds %q but %s won it", v.SeqNo, v.Data, want)
		}
		switch {
		case i == 0 && w.expected != nil:
			t.Fatalf("first version %d was committed expecting %d", v.SeqNo, *w.expected)
		case i > 0 && (w.expected == nil || *w.expected != vs[i-1].SeqNo):
			t.Fatalf("seqno %d was committed expecting %s, but the version before it is %d: two writers won from one head",
				v.SeqNo, fmtSeq(w.expected), vs[i-1].SeqNo)
		}
	}
	if last := vs[len(vs)-1].SeqNo; last < target {
		t.Fatalf("the race stopped at seqno %d, before %d", last, target)
	}
}

// watchDeadline bounds how long a notification may take to arrive.
const watchDeadline = 10 * time.Second

func consensusWatch(t *testing.T, c location.Consensus) {
	w, ok := c.(location.Watcher)
	if !ok {
		t.Skipf("%T does not implement location.Watcher", c)
	}
	notify, cancel, err := w.Watch(t.Context(), "watched")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer cancel()
	// Drain anything spurious, then write: a notification must follow.
	for drained := false; !drained; {
		select {
		case <-notify:
		default:
			drained = true
		}
	}
	mustCAS(t, c, "watched", nil, vd(1, "v1"))
	deadline, stop := context.WithTimeout(t.Context(), watchDeadline)
	defer stop()
	select {
	case <-notify:
	case <-deadline.Done():
		t.Fatalf("no notification within %v after a write to the watched key", watchDeadline)
	}
	cancel()
	cancel() // idempotent
}
