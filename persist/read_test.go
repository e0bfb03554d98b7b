package persist

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

func TestListenYieldsBatchesThenProgress(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	// A poll interval of an hour: only the in-process notification can wake
	// the listen in time.
	c := e.client(ClientOptions{ListenPollMin: time.Hour, ListenPollMax: time.Hour})
	w, _ := c.OpenWriter(ctx, "s")
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1), up("b", "", 1, 1)}, ts(0), ts(2)); err != nil {
		t.Fatal(err)
	}
	r, _ := c.OpenReader(ctx, "s", "listen")
	l, err := r.Listen(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ev, err := l.Next(ctx)
	if err != nil || ev.Kind != ListenParts || !ev.Lower.Equal(ts(0)) || !ev.Upper.Equal(ts(2)) {
		t.Fatalf("first event %+v %v", ev, err)
	}
	got, err := fetchAll(ctx, c, ev.Parts)
	if err != nil {
		t.Fatal(err)
	}
	if want := (contents{{"b", "", 1}: 1}); !equalContents(got, want) {
		t.Fatalf("listen rows %v, want %v (rows at the as-of belong to the snapshot)", got, want)
	}
	if ev, err := l.Next(ctx); err != nil || ev.Kind != ListenProgress || !ev.Upper.Equal(ts(2)) {
		t.Fatalf("progress %+v %v", ev, err)
	}
	// The next event waits for a write; a write through the same client
	// wakes it at once. (The write may also land before Next reads state;
	// TestWaiterWakes pins the wake-up itself.)
	type result struct {
		ev  ListenEvent
		err error
	}
	done := make(chan result, 1)
	go func() {
		ev, err := l.Next(ctx)
		done <- result{ev, err}
	}()
	if err := w.CompareAndAppend(ctx, nil, ts(2), ts(3)); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.err != nil || res.ev.Kind != ListenProgress || !res.ev.Upper.Equal(ts(3)) {
			t.Fatalf("woken event %+v %v", res.ev, res.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listen not woken by a write through the same client")
	}
	// Closing the shard (empty upper) ends the listen.
	if err := w.CompareAndAppend(ctx, []Update{up("z", "", 7, 1)}, ts(3), Frontier{}); err != nil {
		t.Fatal(err)
	}
	ev, err = l.Next(ctx)
	if err != nil || ev.Kind != ListenParts || !ev.Upper.IsEmpty() {
		t.Fatalf("last parts %+v %v", ev, err)
	}
	if _, err := fetchAll(ctx, c, ev.Parts); err != nil {
		t.Fatal(err)
	}
	if ev, err := l.Next(ctx); err != nil || ev.Kind != ListenProgress || !ev.Upper.IsEmpty() {
		t.Fatalf("final progress %+v %v", ev, err)
	}
	if _, err := l.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("after the empty frontier: %v", err)
	}
}

// A listen in another process (client) polls and sees the write.
func TestListenPollsOtherClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := newEnv()
	e.loc.Consensus = noWatch{e.cons} // force polling
	writer, reader := e.client(ClientOptions{}), e.client(ClientOptions{})
	w, _ := writer.OpenWriter(ctx, "s")
	r, _ := reader.OpenReader(ctx, "s", "")
	l, err := r.Listen(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go w.CompareAndAppend(context.Background(), []Update{up("a", "", 1, 1)}, ts(0), ts(2))
	ev, err := l.Next(ctx)
	if err != nil || ev.Kind != ListenParts {
		t.Fatalf("%+v %v", ev, err)
	}
	for _, p := range ev.Parts {
		p.Lease.Release()
	}
}

func TestSnapshotWaitsForUpperAndChecksSince(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	r, _ := c.OpenReader(ctx, "s", "")
	done := make(chan error, 1)
	go func() {
		parts, err := r.Snapshot(ctx, 5)
		if err == nil {
			_, err = fetchAll(ctx, c, parts)
		}
		done <- err
	}()
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 1, 1)}, ts(0), ts(5)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("snapshot at 5 returned at upper [5]: %v", err)
	default:
	}
	if err := w.CompareAndAppend(ctx, nil, ts(5), ts(6)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := r.DowngradeSince(ctx, ts(3)); err != nil {
		t.Fatal(err)
	}
	var sa *SinceAdvancedError
	if _, err := r.Snapshot(ctx, 2); !errors.Is(err, ErrSinceAdvanced) || !errors.As(err, &sa) {
		t.Fatalf("snapshot before since: %v", err)
	}
	if _, err := r.Listen(ctx, 2); !errors.Is(err, ErrSinceAdvanced) {
		t.Fatalf("listen before since: %v", err)
	}
}

func TestReaderLeaseExpires(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{LeaseDuration: time.Minute})
	r, _ := c.OpenReader(ctx, "s", "")
	keep, _ := c.OpenReader(ctx, "s", "")
	e.clock.Advance(30 * time.Second)
	if err := keep.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(45 * time.Second)
	rep, err := c.GC(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ExpiredReaders) != 1 || rep.ExpiredReaders[0] != r.ID() {
		t.Fatalf("expired %v, want only %s", rep.ExpiredReaders, r.ID())
	}
	if err := r.Heartbeat(ctx); !errors.Is(err, ErrReaderExpired) {
		t.Fatalf("heartbeat of an expired reader: %v", err)
	}
	if _, err := r.Snapshot(ctx, 0); !errors.Is(err, ErrReaderExpired) {
		t.Fatalf("snapshot of an expired reader: %v", err)
	}
	if err := keep.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
}

// The reader's seqno hold stays at the oldest version it has a live leased
// part from, and advances once that lease is released.
func TestSeqNoHoldFollowsOldestLease(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(0), ts(1))
	r, _ := c.OpenReader(ctx, "s", "")
	first, err := r.Snapshot(ctx, 0)
	if err != nil || len(first) != 1 {
		t.Fatalf("%v %v", first, err)
	}
	held := first[0].Lease.SeqNo()
	w.CompareAndAppend(ctx, []Update{up("b", "", 1, 1)}, ts(1), ts(2))
	second, _ := r.Snapshot(ctx, 1)
	if err := r.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := c.State(ctx, "s")
	if st.Readers[0].SeqNoHold != uint64(held) {
		t.Fatalf("hold %d, want %d while the first lease lives", st.Readers[0].SeqNoHold, held)
	}
	first[0].Lease.Release()
	for _, p := range second {
		p.Lease.Release()
	}
	r.Heartbeat(ctx)
	st, _ = c.State(ctx, "s")
	if st.Readers[0].SeqNoHold <= uint64(held) {
		t.Fatalf("hold %d did not advance past %d after the leases were released", st.Readers[0].SeqNoHold, held)
	}
}

// A listen in one client wakes on another client's write through the
// consensus's Watcher, without waiting for its (hour-long) poll.
func TestListenWakesOnWatcher(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := newEnv()
	writer := e.client(ClientOptions{})
	reader := e.client(ClientOptions{ListenPollMin: time.Hour, ListenPollMax: time.Hour})
	w, _ := writer.OpenWriter(ctx, "s")
	r, _ := reader.OpenReader(ctx, "s", "")
	l, err := r.Listen(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		ev, err := l.Next(ctx)
		if err == nil {
			releaseAll(ev.Parts)
		}
		done <- err
	}()
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 1, 1)}, ts(0), ts(2)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("listen not woken by the watcher: %v", err)
	}
}

// The waiter under Snapshot and Listen wakes, with an hour-long poll, on a
// write by another client that the consensus Watcher announces, and on a
// write through the same client with no watcher at all. (The local channel
// is taken before the write, as Snapshot and Listen take it before reading
// state, so the write cannot slip past it.)
func TestWaiterWakes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		watcher     bool
		otherClient bool
	}{
		{"watcher announces another client's write", true, true},
		{"write through the same client", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e := newEnv()
			if !tc.watcher {
				e.loc.Consensus = noWatch{e.cons}
			}
			reader := e.client(ClientOptions{ListenPollMin: time.Hour, ListenPollMax: time.Hour})
			writer := reader
			if tc.otherClient {
				writer = e.client(ClientOptions{})
			}
			w, _ := writer.OpenWriter(ctx, "s")
			r, _ := reader.OpenReader(ctx, "s", "")
			wt := r.newWaiter(ctx)
			defer wt.close()
			local := r.m.watch()
			if err := w.CompareAndAppend(ctx, nil, ts(0), ts(1)); err != nil {
				t.Fatal(err)
			}
			if err := wt.wait(ctx, local); err != nil {
				t.Fatalf("waiter not woken: %v", err)
			}
		})
	}
}

// stuckWatch is a Watcher whose Watch cannot be set up: it blocks until
// its context ends, like a backend whose notification channel is down.
type stuckWatch struct{ location.Consensus }

func (stuckWatch) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	<-ctx.Done()
	return nil, nil, ctx.Err()
}

// A watch that cannot be set up neither hangs a read nor stops it: the
// read falls back to polling, and a cancelled read returns.
func TestReadsSurviveAStuckWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := newEnv()
	e.loc.Consensus = stuckWatch{e.cons}
	c := e.client(ClientOptions{ListenPollMin: time.Millisecond, ListenPollMax: 20 * time.Millisecond})
	w, _ := c.OpenWriter(ctx, "s")
	r, _ := c.OpenReader(ctx, "s", "")
	go w.CompareAndAppend(context.Background(), []Update{up("a", "", 0, 1)}, ts(0), ts(1))
	// A hung read would ignore ctx: bound it from outside.
	done := make(chan error, 1)
	go func() {
		parts, err := r.Snapshot(ctx, 0)
		releaseAll(parts)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("snapshot hung setting up a watch")
	}

	slow := e.client(ClientOptions{ListenPollMin: time.Hour, ListenPollMax: time.Hour})
	sr, _ := slow.OpenReader(ctx, "s", "")
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if _, err := sr.Snapshot(short, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("snapshot with a stuck watch: %v, want its deadline", err)
	}
}

// A lease under a millisecond rounds up, not down to the 0 that state
// takes for "never expires": such a reader is expired like any other.
func TestSubMillisecondLeaseExpires(t *testing.T) {
	ctx := t.Context()
	e := newEnv()
	c := e.client(ClientOptions{LeaseDuration: 500 * time.Microsecond})
	r, err := c.OpenReader(ctx, "s", "")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	rep, err := c.GC(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ExpiredReaders) != 1 || rep.ExpiredReaders[0] != r.ID() {
		t.Fatalf("expired %v, want [%s]", rep.ExpiredReaders, r.ID())
	}
}

// TestExpiredReaderSnapshotFromOtherClientsGC: a reader whose lease ran
// out and that another client's GC expired learns so at its next
// Snapshot, though its own client's cached state still lists it, rather
// than getting parts whose blobs GC may delete.
func TestExpiredReaderSnapshotFromOtherClientsGC(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	opts := ClientOptions{LeaseDuration: time.Minute, MergeFanIn: -1}
	c, gc := e.client(opts), e.client(opts)
	w, _ := c.OpenWriter(ctx, "s")
	if err := w.CompareAndAppend(ctx, []Update{up("a", "1", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenReader(ctx, "s", "")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	rep, err := gc.GC(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rep.ExpiredReaders, r.ID()) {
		t.Fatalf("GC expired %v, not %s", rep.ExpiredReaders, r.ID())
	}
	if parts, err := r.Snapshot(ctx, 0); !errors.Is(err, ErrReaderExpired) {
		t.Fatalf("snapshot of a reader another client expired: %d parts, %v; want ErrReaderExpired", len(parts), err)
	}
}
