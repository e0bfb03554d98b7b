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
	r.SetPollBackoff(0, 3*time.Millisecond) // max below min: raised to min
	if r.pollMin != 7*time.Millisecond || r.pollMax != 7*time.Millisecond {
		t.Fatalf("bounds %v..%v, want 7ms..7ms", r.pollMin, r.pollMax)
	}
}
