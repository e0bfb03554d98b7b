package persist

import (
	"context"
	"testing"
	"time"
)

// A listener that found nothing for a while has backed off to the longest
// poll interval; once a poll finds a batch it must go back to the shortest,
// or a polling reader in another process sees every later write only after
// ListenPollMax.
func TestListenBackoffResetsWhenPollFindsData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := newEnv()
	e.loc.Consensus = noWatch{e.cons} // polling only
	opts := ClientOptions{ListenPollMin: time.Millisecond, ListenPollMax: time.Hour}
	writer, reader := e.client(opts), e.client(opts)
	w, _ := writer.OpenWriter(ctx, "s")
	r, _ := reader.OpenReader(ctx, "s", "")
	l, err := r.Listen(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.w.delay = opts.ListenPollMax // as after a long idle stretch
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 1, 1)}, ts(0), ts(2)); err != nil {
		t.Fatal(err)
	}
	ev, err := l.Next(ctx) // the batch is already there: no wait
	if err != nil || ev.Kind != ListenParts {
		t.Fatalf("%+v %v", ev, err)
	}
	for _, p := range ev.Parts {
		p.Lease.Release()
	}
	if l.w.delay != opts.ListenPollMin {
		t.Fatalf("after finding a batch the poll interval is %v, want %v", l.w.delay, opts.ListenPollMin)
	}
}

// SetPollBackoff overrides the client's bounds for one reader.
func TestSetPollBackoff(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	e.loc.Consensus = noWatch{e.cons}
	r, _ := e.client(ClientOptions{ListenPollMin: time.Millisecond, ListenPollMax: time.Second}).OpenReader(ctx, "s", "")
	r.SetPollBackoff(7*time.Millisecond, 0)
	l, err := r.Listen(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.w.min != 7*time.Millisecond || l.w.max != time.Second || l.w.delay != 7*time.Millisecond {
		t.Fatalf("waiter bounds %v..%v delay %v, want 7ms..1s delay 7ms", l.w.min, l.w.max, l.w.delay)
	}
	r.SetPollBackoff(0, 3*time.Millisecond) // a max alone below the min: the min comes down to it
	if r.pollMin != 3*time.Millisecond || r.pollMax != 3*time.Millisecond {
		t.Fatalf("bounds %v..%v, want 3ms..3ms", r.pollMin, r.pollMax)
	}
	r.SetPollBackoff(7*time.Millisecond, 3*time.Millisecond) // both, max below min: raised to it
	if r.pollMin != 7*time.Millisecond || r.pollMax != 7*time.Millisecond {
		t.Fatalf("bounds %v..%v, want 7ms..7ms", r.pollMin, r.pollMax)
	}
}

// A poll bound given alone stands, and moves the other so that min <=
// max, whether ClientOptions gives it (over the defaults, 10ms and 1s) or
// SetPollBackoff (over a default client's bounds); given both, a max below
// the min is raised to it. (Before, ListenPollMax 5ms alone was replaced
// by 1s: a Listen waiting on another process polled some 8 times in 2s
// instead of some 400; and SetPollBackoff(0, 5ms), which a shard source's
// ListenRetry{Max: 5ms} calls, polled from 10ms up to 10ms.)
func TestPollBounds(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct{ lo, hi, wantMin, wantMax time.Duration }{
		{0, 0, 10 * ms, time.Second},
		{0, 5 * ms, 5 * ms, 5 * ms},
		{0, 50 * ms, 10 * ms, 50 * ms},
		{2 * time.Second, 0, 2 * time.Second, 2 * time.Second},
		{20 * ms, 0, 20 * ms, time.Second},
		{20 * ms, 5 * ms, 20 * ms, 20 * ms},
		{ms, time.Hour, ms, time.Hour},
	} {
		for _, viaOptions := range []bool{true, false} {
			opts := ClientOptions{}
			if viaOptions {
				opts.ListenPollMin, opts.ListenPollMax = tc.lo, tc.hi
			}
			r, err := NewClient(newEnv().loc, opts).OpenReader(t.Context(), "s", "")
			if err != nil {
				t.Fatal(err)
			}
			if !viaOptions {
				r.SetPollBackoff(tc.lo, tc.hi)
			}
			if r.pollMin != tc.wantMin || r.pollMax != tc.wantMax {
				t.Errorf("bounds %v, %v (through ClientOptions: %v): a reader polls from %v up to %v, want %v up to %v",
					tc.lo, tc.hi, viaOptions, r.pollMin, r.pollMax, tc.wantMin, tc.wantMax)
			}
		}
	}
}
