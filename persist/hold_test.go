package persist

import (
	"context"
	"testing"
)

// A read in flight (state read, parts not leased yet) pins the reader's
// seqno hold: a heartbeat in that window, after compaction replaced the
// parts read, must not move the hold past the version read, or GC deletes
// the blobs the read is about to lease.
func TestReadInFlightPinsHold(t *testing.T) {
	ctx := context.Background()
	e, hc, c, _, r := newHookEnv(t)
	if err := r.DowngradeSince(ctx, ts(2)); err != nil {
		t.Fatal(err)
	}
	// Written through another client, so that c's cached state (upper
	// [0]) cannot serve the snapshot at 2: it reads the head.
	w2, err := e.client(blobParts).OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	writeBatches(t, w2, 0, 3)
	fired := false
	hc.afterHead = func() {
		fired = true
		if rep, err := c.Compact(ctx, "s"); err != nil || rep.BatchesMerged != 2 {
			t.Errorf("compact %+v %v", rep, err)
		}
		if err := r.Heartbeat(ctx); err != nil {
			t.Error(err)
		}
		if _, err := c.GC(ctx, "s"); err != nil {
			t.Error(err)
		}
	}
	parts, err := r.Snapshot(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fetchAll(ctx, c, parts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %v, want 3 rows", got)
	}
	if !fired {
		t.Fatal("the snapshot read no head: nothing ran in the window")
	}
}
