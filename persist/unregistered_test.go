package persist

import (
	"context"
	"errors"
	"fmt"
	"testing"

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
// say so instead of yielding updates compaction may have moved.
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
	u, err := c.OpenUnregisteredReader(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	l, err := u.Listen(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for !l.Frontier().Equal(ts(2)) { // the batch [0, 2), whose parts may be skipped
		if _, err := l.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Another reader, the only registered one, lets the since go to 3:
	// past the listen's frontier [2] and the as-of 1.
	other, err := c.OpenReader(ctx, "s", "other")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.DowngradeSince(ctx, ts(3)); err != nil {
		t.Fatal(err)
	}
	var since *SinceAdvancedError
	if _, err := l.Next(ctx); !errors.As(err, &since) || !since.Since.Equal(ts(3)) {
		t.Fatalf("listen at [2] after the since went to [3]: %v, want a SinceAdvancedError at [3]", err)
	}
	if _, err := u.Snapshot(ctx, 1); !errors.As(err, &since) {
		t.Fatalf("snapshot at 1 after the since went to [3]: %v, want a SinceAdvancedError", err)
	}
	if _, err := u.Listen(ctx, 2); !errors.As(err, &since) {
		t.Fatalf("listen at 2 after the since went to [3]: %v, want a SinceAdvancedError", err)
	}
	// At the since, it reads again.
	if got := snapshotContents(t, c, u, 3); !equalContents(got, contents{{"k0", "", 3}: 1, {"k2", "", 3}: 1}) {
		t.Fatalf("snapshot at 3: %v", got)
	}
}
