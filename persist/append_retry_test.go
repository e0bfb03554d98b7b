package persist

import (
	"context"
	"errors"
	"testing"

	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
)

// hookConsensus commits the next compare-and-set, runs after (which may
// write through the same consensus) and then reports the commit as
// indeterminate, like a timeout that fired after the server applied it.
// It can also stall a read of the head with afterHead.
type hookConsensus struct {
	location.Consensus
	after     func()
	afterHead func() // runs once between reading a head and returning it
}

func (h *hookConsensus) Head(ctx context.Context, key string) (location.VersionedData, bool, error) {
	vd, ok, err := h.Consensus.Head(ctx, key)
	if after := h.afterHead; after != nil {
		h.afterHead = nil
		after()
	}
	return vd, ok, err
}

func (h *hookConsensus) CompareAndSet(ctx context.Context, key string, expected *location.SeqNo, next location.VersionedData) (location.CaSResult, error) {
	res, err := h.Consensus.CompareAndSet(ctx, key, expected, next)
	if after := h.after; after != nil && err == nil && res == location.Committed {
		h.after = nil
		after()
		return 0, location.Indeterminate("consensus compare-and-set", errors.New("timed out"))
	}
	return res, err
}

// newHookEnv returns a client whose consensus is a hookConsensus, with a
// writer and a reader of shard "s".
func newHookEnv(t *testing.T) (*env, *hookConsensus, *Client, *WriteHandle, *ReadHandle) {
	t.Helper()
	ctx := context.Background()
	e := newEnv()
	hc := &hookConsensus{Consensus: e.cons}
	c := NewClient(Location{Blob: e.blob, Consensus: hc}, ClientOptions{Clock: e.clock, BlobClock: e.clock, InlineWriteMaxBytes: -1, MergeFanIn: -1})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenReader(ctx, "s", "")
	if err != nil {
		t.Fatal(err)
	}
	return e, hc, c, w, r
}

// An append that committed, but was reported indeterminate, and whose
// evidence a retry looks for is gone before the retry (the same writer's
// next append replaced its last token, compaction merged its batch) must
// not be reported as an upper mismatch ("nothing was written") nor have
// its parts deleted: older state versions a reader holds reference them.
func TestIndeterminateAppendWhoseTraceIsGone(t *testing.T) {
	ctx := context.Background()
	e, hc, c, w, r := newHookEnv(t)
	writeBatches(t, w, 0, 2)
	var leased []LeasedPart
	hc.after = func() {
		// The reader reads the version that holds the batch, so its
		// hold pins that version's blobs.
		var err error
		if leased, err = r.Snapshot(ctx, 2); err != nil {
			t.Error(err)
		}
		if err := w.CompareAndAppend(ctx, []Update{up("b", "", 3, 1)}, ts(3), ts(4)); err != nil {
			t.Error(err)
		}
		if err := r.DowngradeSince(ctx, ts(3)); err != nil {
			t.Error(err)
		}
		if rep, err := c.Compact(ctx, "s"); err != nil || rep.BatchesMerged == 0 {
			t.Errorf("compact %+v %v", rep, err)
		}
	}
	err := w.CompareAndAppend(ctx, []Update{up("a", "", 2, 1)}, ts(2), ts(3))
	var mismatch *UpperMismatchError
	if errors.As(err, &mismatch) || !location.IsIndeterminate(err) {
		t.Fatalf("got %v, want an indeterminate error and no upper mismatch", err)
	}
	defer releaseAll(leased)
	// Every blob a version at or after the reader's hold references exists.
	hold := r.SeqNoHold()
	err = c.scanStates(ctx, "s", func(seq location.SeqNo, s state.State, derr error) error {
		if derr != nil || seq < hold {
			return derr
		}
		s.BlobKeys(func(k string) {
			if _, ok, _ := e.blob.Get(ctx, k); !ok {
				t.Errorf("blob %s of seqno %d (hold %d) was deleted", k, seq, hold)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A compaction whose commit landed but was reported indeterminate finds, on
// the retry, its run already replaced (by itself). It must not take that
// for a lost race and delete its new parts: the shard references them.
func TestIndeterminateCompactionKeepsItsParts(t *testing.T) {
	ctx := context.Background()
	_, hc, c, w, r := newHookEnv(t)
	writeBatches(t, w, 0, 3)
	if err := r.DowngradeSince(ctx, ts(2)); err != nil {
		t.Fatal(err)
	}
	hc.after = func() {}
	rep, err := c.Compact(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if rep.BatchesMerged != 2 {
		t.Errorf("compaction that landed reported %+v", rep)
	}
	if v, err := c.Verify(ctx, "s"); err != nil || !v.OK() {
		t.Fatalf("after the compaction: %+v %v", v, err)
	}
}
