package persist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
	"github.com/shardflow/shardflow/persist/location"
)

// An unregistered reader reads a location opened read-only, where a
// registered one cannot even open: a snapshot, then a listen of what came
// after it, to the end of the shard.
func TestUnregisteredReaderReadsReadOnlyLocation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc, err := DefaultLocation(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewClient(loc, blobParts).OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	want := contents{}
	var batch []Update
	for i := range 300 {
		u := up(fmt.Sprintf("k%03d", i), "v", uint64Time(i%3), 1)
		want.add(string(u.Key), string(u.Val), u.Time, u.Diff)
		batch = append(batch, u)
	}
	if err := w.CompareAndAppend(ctx, batch, ts(0), ts(3)); err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, []Update{up("late", "v", 4, 1)}, ts(3), Frontier{}); err != nil {
		t.Fatal(err)
	}
	if err := loc.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := DefaultLocationReadOnly(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	c := NewClient(ro, ClientOptions{})
	if _, err := c.OpenReader(ctx, "s", "registered"); !errors.Is(err, location.ErrReadOnly) {
		t.Fatalf("a registered reader on a read-only location: %v, want ErrReadOnly", err)
	}
	r, err := c.OpenUnregisteredReader(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if r.ID() != "" || !r.Since().Equal(ts(0)) {
		t.Fatalf("id %q since %v, want no id and the shard's since [0]", r.ID(), r.Since())
	}
	// The snapshot at 2 holds every row of the first batch, advanced to 2.
	snap := contents{}
	for k, d := range want {
		snap.add(k.Key, k.Val, 2, d)
	}
	if got := snapshotContents(t, c, r, 2); !equalContents(got, snap) {
		t.Fatalf("snapshot at 2: %v\nwant %v", got, snap)
	}
	l, err := r.Listen(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := contents{}
	for !l.Frontier().IsEmpty() {
		ev, err := l.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		more, err := fetchAll(ctx, c, ev.Parts)
		if err != nil {
			t.Fatal(err)
		}
		for k, d := range more {
			got.add(k.Key, k.Val, k.Time, d)
		}
	}
	if wantListen := (contents{{"late", "v", 4}: 1}); !equalContents(got, wantListen) {
		t.Fatalf("listen after 2: %v, want %v", got, wantListen)
	}
	if err := r.Heartbeat(ctx); err != nil {
		t.Fatalf("heartbeat of an unregistered reader: %v", err)
	}
	if err := r.DowngradeSince(ctx, ts(3)); err != nil || !r.Since().Equal(ts(3)) {
		t.Fatalf("downgrade to [3]: %v, since %v", err, r.Since())
	}
	if _, err := r.Snapshot(ctx, 2); !errors.Is(err, ErrSinceAdvanced) {
		t.Fatalf("snapshot at 2 after downgrading to [3]: %v, want ErrSinceAdvanced", err)
	}
	if err := r.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Snapshot(ctx, 3); !errors.Is(err, ErrReaderExpired) {
		t.Fatalf("snapshot after Expire: %v, want ErrReaderExpired", err)
	}
}

// An unregistered reader writes nothing, whatever it does, on a location
// it could write: the state's version is the one it found.
func TestUnregisteredReaderWritesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w, _ := c.OpenWriter(ctx, "s")
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1), up("b", "", 1, 1)}, ts(0), ts(2)); err != nil {
		t.Fatal(err)
	}
	before, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenUnregisteredReader(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotContents(t, c, r, 1); !equalContents(got, contents{{"a", "", 1}: 1, {"b", "", 1}: 1}) {
		t.Fatalf("snapshot at 1: %v", got)
	}
	for _, step := range []func() error{
		func() error { return r.Heartbeat(ctx) },
		func() error { return r.DowngradeSince(ctx, ts(1)) },
		func() error { return r.Expire(ctx) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if after.SeqNo != before.SeqNo || len(after.Readers) != 0 || !after.Since.Equal(ts(0)) {
		t.Fatalf("state after an unregistered reader: seqno %d (was %d), readers %v, since %v",
			after.SeqNo, before.SeqNo, after.Readers, after.Since)
	}
}

// Nothing holds the since back for an unregistered reader: once another
// reader moves the shard's since past where it reads, Snapshot and Listen
// say so instead of yielding updates compaction may have moved. A listen
// goes on while the since has passed its as-of but not its frontier.
func TestUnregisteredReaderSinceAdvanced(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w, _ := c.OpenWriter(ctx, "s")
	for _, b := range [][2]int{{0, 2}, {2, 4}, {4, 6}} {
		u := up(fmt.Sprint("k", b[0]), "", uint64Time(b[0]), 1)
		if err := w.CompareAndAppend(ctx, []Update{u}, ts(uint64Time(b[0])), ts(uint64Time(b[1]))); err != nil {
			t.Fatal(err)
		}
	}
	u, l := unregisteredListenTo(t, c, 1, 2) // the batch [0, 2), whose parts may be skipped
	defer l.Close()
	// Another reader, the only registered one, lets the since go to 2:
	// past the as-of 1, but not the listen's frontier [2], where the
	// batches are as written. The listen goes on.
	other, err := c.OpenReader(ctx, "s", "other")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.DowngradeSince(ctx, ts(2)); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("listen at [2] with the since at [2]: %v", err)
		}
		if ev.Kind == ListenProgress && ev.Upper.Equal(ts(4)) {
			break
		}
	}
	// Then to 5: past the listen's frontier [4].
	if err := other.DowngradeSince(ctx, ts(5)); err != nil {
		t.Fatal(err)
	}
	var since *SinceAdvancedError
	if _, err := l.Next(ctx); !errors.As(err, &since) || !since.Since.Equal(ts(5)) || since.AsOf != 1 {
		t.Fatalf("listen at [4] after the since went to [5]: %v, want a SinceAdvancedError of as-of 1 at [5]", err)
	}
	if _, err := u.Snapshot(ctx, 4); !errors.As(err, &since) {
		t.Fatalf("snapshot at 4 after the since went to [5]: %v, want a SinceAdvancedError", err)
	}
	if _, err := u.Listen(ctx, 4); !errors.As(err, &since) {
		t.Fatalf("listen at 4 after the since went to [5]: %v, want a SinceAdvancedError", err)
	}
	// At the since, it reads again.
	if got := snapshotContents(t, c, u, 5); !equalContents(got, contents{{"k0", "", 5}: 1, {"k2", "", 5}: 1, {"k4", "", 5}: 1}) {
		t.Fatalf("snapshot at 5: %v", got)
	}
}

// With a writer appending (and merging its batches), another reader
// moving the since, and compaction and GC running, an unregistered listen
// either yields exactly what was written, or stops with a
// *SinceAdvancedError or a *BlobMissingError: never other rows or times.
// Everything before its last progress must match the writes.
func TestUnregisteredReaderNeverWrong(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	var finished, stopped int
	for round := range 20 {
		ctx := context.Background()
		e := newEnv()
		c := e.client(ClientOptions{InlineWriteMaxBytes: -1, MergeFanIn: 2})
		w, _ := c.OpenWriter(ctx, "s")
		other, err := c.OpenReader(ctx, "s", "moves the since")
		if err != nil {
			t.Fatal(err)
		}
		const batches = 24
		written := make([][]Update, batches) // by time, each batch [i, i+1)
		for i := range written {
			for k := range rng.IntN(4) {
				written[i] = append(written[i], up(fmt.Sprintf("k%d", k), fmt.Sprint(rng.IntN(3)), uint64Time(i), int64(1+rng.IntN(2))))
			}
		}
		lag := 1 + rng.IntN(6) // how far the since trails the upper

		u, err := c.OpenUnregisteredReader(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		l, err := u.Listen(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		// appended counts the batches written; the listen sometimes waits
		// for the writer to get ahead, so the since passes its frontier.
		var appended struct {
			sync.Mutex
			sync.Cond
			n    int
			done bool
		}
		appended.L = &appended.Mutex
		waitAppended := func(n int) {
			appended.Lock()
			defer appended.Unlock()
			for appended.n < n && !appended.done {
				appended.Wait()
			}
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			defer func() {
				appended.Lock()
				appended.done = true
				appended.Broadcast()
				appended.Unlock()
			}()
			for i := range batches {
				upper := ts(uint64Time(i + 1))
				if i == batches-1 {
					upper = Frontier{}
				}
				if err := w.CompareAndAppend(ctx, written[i], ts(uint64Time(i)), upper); err != nil {
					t.Error(err)
					return
				}
				if i >= lag {
					if err := other.DowngradeSince(ctx, ts(uint64Time(i-lag))); err != nil {
						t.Error(err)
						return
					}
				}
				appended.Lock()
				appended.n = i + 1
				appended.Broadcast()
				appended.Unlock()
				if i%3 == 0 {
					_, _ = c.Compact(ctx, "s")
					_, _ = c.GC(ctx, "s")
				}
			}
		})

		got := contents{}
		var progress frontier.Time // every time before it has been yielded
		var stop error
		for stop == nil {
			if rng.IntN(30) == 0 {
				waitAppended(int(progress) + lag + 1 + rng.IntN(3))
			}
			ev, err := l.Next(ctx)
			switch {
			case errors.Is(err, io.EOF):
				progress = batches
			case err != nil:
				stop = err
				continue
			case ev.Kind == ListenProgress:
				if p, ok := ev.Upper.Single(); ok {
					progress = p
				}
				continue
			default:
				rows, err := fetchAll(ctx, c, ev.Parts)
				if err != nil {
					stop = err
					continue
				}
				for k, d := range rows {
					got.add(k.Key, k.Val, k.Time, d)
				}
				continue
			}
			break
		}
		l.Close()
		wg.Wait()

		var since *SinceAdvancedError
		var missing *BlobMissingError
		switch {
		case stop == nil:
			finished++
		case errors.As(stop, &since), errors.As(stop, &missing):
			stopped++
		default:
			t.Fatalf("round %d: the listen stopped with %v", round, stop)
		}
		// The rows at times before progress, and none outside the batches
		// yielded. (A batch whose fetch failed may have yielded some of
		// its parts: those are after progress, and not compared.)
		want, before := contents{}, contents{}
		for i := 1; i < int(progress); i++ {
			for _, u := range written[i] {
				want.add(string(u.Key), string(u.Val), u.Time, u.Diff)
			}
		}
		for k, d := range got {
			if k.Time < progress {
				before.add(k.Key, k.Val, k.Time, d)
			}
		}
		if !equalContents(before, want) {
			t.Fatalf("round %d (stopped by %v at progress %d): yielded %v\nwant %v", round, stop, progress, before, want)
		}
	}
	t.Logf("%d listens finished, %d stopped with an error", finished, stopped)
}

// An empty append after the empty batch a compaction left (its rows
// cancelled) does not carry the compaction's since over the new times: an
// unregistered listen at that since goes on, as it does past any batch
// whose rows were not advanced beyond its frontier.
func TestListenPastExtendedEmptyCompactedBatch(t *testing.T) {
	ctx := t.Context()
	c, w := blobWriter(t)
	adv, err := c.OpenReader(ctx, "s", "adv")
	if err != nil {
		t.Fatal(err)
	}
	appendCancelling(t, w)
	_, l := unregisteredListenTo(t, c, 0, 2)
	defer l.Close()
	compactEmptyThenAppendEmpty(t, c, w, adv)
	ev, err := l.Next(ctx)
	if err != nil {
		t.Fatalf("listen at the since after an empty append: %v", err)
	}
	if ev.Kind != ListenProgress || !ev.Upper.Equal(ts(4)) {
		t.Fatalf("got %+v, want progress to [4]", ev)
	}
}

// ... and an empty append after it does not drop that since either: a
// listen still behind it is told rows it never yielded were compacted
// away, not given progress over them. An empty append used to extend the
// batch and drop its since, and this listen saw progress to [4] with
// (a, 1, -1) never yielded. (The reader moves its since past its own
// listen, which the docs forbid; Listen promises to catch it.)
func TestListenBehindEmptyCompactedBatchAfterAnEmptyAppend(t *testing.T) {
	ctx := t.Context()
	c, w := blobWriter(t)
	appendCancelling(t, w)
	r, err := c.OpenReader(ctx, "s", "r")
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.Listen(ctx, 0) // (a, 0, +1) and (a, 1, -1) still to come
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	compactEmptyThenAppendEmpty(t, c, w, r)
	ev, err := l.Next(ctx)
	var sa *SinceAdvancedError
	if !errors.As(err, &sa) {
		t.Fatalf("listen at 0 behind a compaction to [2]: got %+v, %v; want a *SinceAdvancedError", ev, err)
	}
}

// appendCancelling appends (a, 0, +1) as [0, 1) and (a, 1, -1) as [1, 2).
func appendCancelling(t *testing.T, w *WriteHandle) {
	t.Helper()
	if err := w.CompareAndAppend(t.Context(), []Update{up("a", "", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(t.Context(), []Update{up("a", "", 1, -1)}, ts(1), ts(2)); err != nil {
		t.Fatal(err)
	}
}

// compactEmptyThenAppendEmpty moves hold's since to [2], compacts the two
// batches of appendCancelling into one empty batch with that since, and
// appends the empty batch [2, 4).
func compactEmptyThenAppendEmpty(t *testing.T, c *Client, w *WriteHandle, hold *ReadHandle) {
	t.Helper()
	ctx := t.Context()
	if err := hold.DowngradeSince(ctx, ts(2)); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.Compact(ctx, "s"); err != nil || rep.BatchesMerged != 2 || rep.PartsOut != 0 {
		t.Fatalf("compact: %+v %v, want two batches merged into no parts", rep, err)
	}
	if err := w.CompareAndAppend(ctx, nil, ts(2), ts(4)); err != nil {
		t.Fatal(err)
	}
}

// unregisteredListenTo opens an unregistered reader of shard s, listens
// from asOf and reads on until the listen's progress reaches upper.
func unregisteredListenTo(t *testing.T, c *Client, asOf, upper frontier.Time) (*ReadHandle, *Listen) {
	t.Helper()
	ctx := t.Context()
	u, err := c.OpenUnregisteredReader(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	l, err := u.Listen(ctx, asOf)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := l.Next(ctx)
		if err != nil {
			l.Close()
			t.Fatal(err)
		}
		if ev.Kind == ListenProgress && ev.Upper.Equal(ts(upper)) {
			return u, l
		}
	}
}

// DefaultLocationReadOnly creates nothing: not a missing location, nor the
// blob directory of a location that has none (all its batches inline; a
// copy dropped the empty directory). It reads that location's shard, and
// its blob store refuses writes. (Before, the blob store was opened as
// usual first, which created dir/blob, and dir with it.)
func TestDefaultLocationReadOnlyCreatesNothing(t *testing.T) {
	ctx := context.Background()
	nowhere := filepath.Join(t.TempDir(), "nowhere")
	if loc, err := DefaultLocationReadOnly(ctx, nowhere); err == nil {
		loc.Close()
		t.Fatal("a read-only open of no location succeeded")
	}
	if _, err := os.Stat(nowhere); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a read-only open of no location left %s (stat: %v)", nowhere, err)
	}

	dir := t.TempDir()
	loc, err := DefaultLocation(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewClient(loc, ClientOptions{}).OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, []Update{up("k", "v", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	if err := loc.Close(); err != nil {
		t.Fatal(err)
	}
	blobDir := filepath.Join(dir, "blob")
	if err := os.Remove(blobDir); err != nil {
		t.Fatalf("the blob directory of an inline shard: %v", err)
	}
	ro, err := DefaultLocationReadOnly(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := os.Stat(blobDir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a read-only open recreated %s (stat: %v)", blobDir, err)
	}
	c := NewClient(ro, ClientOptions{})
	r, err := c.OpenUnregisteredReader(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := snapshotContents(t, c, r, 0), (contents{{"k", "v", 0}: 1}); !equalContents(got, want) {
		t.Fatalf("snapshot at 0: %v, want %v", got, want)
	}
	if err := ro.Blob.Set(ctx, "x", []byte("x")); !errors.Is(err, location.ErrReadOnly) {
		t.Fatalf("a write to the read-only blob store: %v, want ErrReadOnly", err)
	}
	if _, err := os.Stat(blobDir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused write created %s (stat: %v)", blobDir, err)
	}
}

// OpenLocation checks both URLs before it opens either store: a consensus
// URL that names no store leaves no blob directory behind. (Before, the
// blob store was opened, and its directory created, first.)
func TestOpenLocationChecksBothURLsFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blob")
	loc, err := OpenLocation(context.Background(), location.PathURL("file", dir), "sqlite:c.db?bogus=1")
	if err == nil {
		loc.Close()
		t.Fatal("a consensus URL with an unknown parameter opened")
	}
	if !errors.Is(err, location.ErrBadURL) {
		t.Errorf("error %v does not match ErrBadURL", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the blob directory was created before the consensus URL was refused (stat: %v)", err)
	}
}
