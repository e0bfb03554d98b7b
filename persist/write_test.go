package persist

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/persisttest"
)

func TestWriteThenSnapshot(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{PartTargetSize: 20})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, []Update{up("b", "1", 0, 1), up("a", "1", 1, 2), up("a", "1", 1, -1), up("c", "x", 2, 1), up("c", "x", 2, -1)}, ts(0), ts(3)); err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, []Update{up("a", "1", 3, 1), up("d", "1", 4, 1)}, ts(3), ts(5)); err != nil {
		t.Fatal(err)
	}
	if got := w.Upper(); !got.Equal(ts(5)) {
		t.Fatalf("upper %v", got)
	}
	r, err := c.OpenReader(ctx, "s", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		asOf int
		want contents
	}{
		{0, contents{{"b", "1", 0}: 1}},
		{2, contents{{"b", "1", 2}: 1, {"a", "1", 2}: 1}},
		{4, contents{{"b", "1", 4}: 1, {"a", "1", 4}: 2, {"d", "1", 4}: 1}},
	} {
		parts, err := r.Snapshot(ctx, uint64Time(tc.asOf))
		if err != nil {
			t.Fatal(err)
		}
		got, err := fetchAll(ctx, c, parts)
		if err != nil {
			t.Fatal(err)
		}
		if !equalContents(got, tc.want) {
			t.Errorf("snapshot at %d: got %v want %v", tc.asOf, got, tc.want)
		}
	}
	st, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Batches) != 2 || len(st.Readers) != 1 || len(st.Writers) != 1 || st.Batches[0].Parts[0].Checksum == 0 {
		t.Fatalf("state %+v", st)
	}
	if len(st.Batches[0].Parts) < 2 {
		t.Errorf("a 20-byte target size should split the first batch, got %d parts", len(st.Batches[0].Parts))
	}
	shards, err := c.ListShards(ctx)
	if err != nil || len(shards) != 1 || shards[0] != "s" {
		t.Fatalf("shards %v %v", shards, err)
	}
}

func TestUpperMismatchDeletesParts(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w1, _ := c.OpenWriter(ctx, "s")
	w2, _ := c.OpenWriter(ctx, "s")
	if err := w1.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	err := w2.CompareAndAppend(ctx, []Update{up("b", "", 0, 1)}, ts(0), ts(2))
	var um *UpperMismatchError
	if !errors.As(err, &um) || !um.Current.Equal(ts(1)) || !um.Expected.Equal(ts(0)) {
		t.Fatalf("got %v, want upper mismatch with current [1]", err)
	}
	if n := blobCount(t, e.blob, "s/"); n != 1 {
		t.Fatalf("%d blobs after a failed append, want 1", n)
	}
}

// A second client's cache is stale; its append must still see the true
// upper rather than report a mismatch against its cache.
func TestStaleCacheRetries(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c1, c2 := e.client(ClientOptions{}), e.client(ClientOptions{})
	w1, _ := c1.OpenWriter(ctx, "s")
	w2, _ := c2.OpenWriter(ctx, "s")
	if err := w1.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	if err := w2.CompareAndAppend(ctx, []Update{up("b", "", 1, 1)}, ts(1), ts(2)); err != nil {
		t.Fatalf("append through a stale cache: %v", err)
	}
}

func TestInvalidUpdates(t *testing.T) {
	ctx := context.Background()
	c := newEnv().client(ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	for name, err := range map[string]error{
		"time before lower":  w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(1), ts(2)),
		"time at upper":      w.CompareAndAppend(ctx, []Update{up("a", "", 2, 1)}, ts(0), ts(2)),
		"upper before lower": w.CompareAndAppend(ctx, nil, ts(2), ts(1)),
	} {
		if !errors.Is(err, ErrInvalidUpdate) || isIndeterminate(err) {
			t.Errorf("%s: got %v, want a determinate ErrInvalidUpdate", name, err)
		}
	}
	if _, err := c.OpenWriter(ctx, "bad/id"); !errors.Is(err, ErrInvalidShardID) {
		t.Errorf("bad shard id: %v", err)
	}
}

// An append whose commit reply is lost is retried with the same token and
// recognized as applied, not applied twice.
func TestIndeterminateAppendIsIdempotent(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	faults := persisttest.NewFaults(1)
	loc := Location{Blob: e.blob, Consensus: persisttest.NewFaultyConsensus(e.cons, faults)}
	c := NewClient(loc, ClientOptions{Clock: e.clock, InlineWriteMaxBytes: -1, MergeFanIn: -1})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	faults.FailNext(persisttest.OpConsensusCAS, persisttest.IndeterminateApplied)
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	faults.FailNext(persisttest.OpConsensusCAS, persisttest.IndeterminateLost)
	if err := w.CompareAndAppend(ctx, []Update{up("b", "", 1, 1)}, ts(1), ts(2)); err != nil {
		t.Fatal(err)
	}
	st, _ := c.State(ctx, "s")
	if len(st.Batches) != 2 || !st.Upper.Equal(ts(2)) {
		t.Fatalf("batches %+v upper %v", st.Batches, st.Upper)
	}
	if n := blobCount(t, e.blob, "s/"); n != 2 {
		t.Fatalf("%d blobs, want 2", n)
	}
	if faults.Injected(persisttest.IndeterminateApplied) != 1 {
		t.Fatal("fault not injected")
	}
}

// An append whose outcome stays unknown leaves its parts (they may be
// referenced); a definite failure removes them.
func TestAppendFailureCleanup(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	faults := persisttest.NewFaults(1)
	loc := Location{Blob: e.blob, Consensus: persisttest.NewFaultyConsensus(e.cons, faults)}
	c := NewClient(loc, ClientOptions{Clock: e.clock, CASRetries: 1, InlineWriteMaxBytes: -1, MergeFanIn: -1})
	w, _ := c.OpenWriter(ctx, "s")
	faults.FailNext(persisttest.OpConsensusCAS, persisttest.Determinate)
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(0), ts(1)); err == nil {
		t.Fatal("append succeeded despite a determinate failure")
	}
	if n := blobCount(t, e.blob, "s/"); n != 0 {
		t.Fatalf("%d blobs after a determinate failure", n)
	}
	faults.FailNext(persisttest.OpConsensusCAS, persisttest.IndeterminateLost)
	faults.FailNext(persisttest.OpConsensusCAS, persisttest.IndeterminateLost)
	err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(0), ts(1))
	if err == nil || !isIndeterminate(err) {
		t.Fatalf("got %v, want an indeterminate error", err)
	}
	if n := blobCount(t, e.blob, "s/"); n != 1 {
		t.Fatalf("%d blobs after an indeterminate failure, want the part kept", n)
	}
}

// An append whose part write fails, even one that may have stored the
// part, tried no compare-and-set: its error is determinate, the batch is
// not written and the shard's upper stays.
func TestAppendPartWriteFailureIsDeterminate(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	faults := persisttest.NewFaults(1)
	loc := Location{Blob: persisttest.NewFaultyBlob(e.blob, faults), Consensus: e.cons}
	c := NewClient(loc, ClientOptions{Clock: e.clock, InlineWriteMaxBytes: -1, MergeFanIn: -1})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []persisttest.FaultKind{persisttest.Determinate, persisttest.IndeterminateApplied, persisttest.IndeterminateLost} {
		faults.FailNext(persisttest.OpBlobSet, kind)
		err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(0), ts(1))
		if err == nil || isIndeterminate(err) {
			t.Fatalf("%v part write: append = %v, want a determinate error", kind, err)
		}
		st, err := c.State(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		if !st.Upper.Equal(ts(0)) {
			t.Fatalf("%v part write: upper %v", kind, st.Upper)
		}
	}
}

func isIndeterminate(err error) bool {
	return err != nil && locationIsIndeterminate(err)
}

var _ = state.FormatParquetV1

func TestOpenLocation(t *testing.T) {
	ctx := context.Background()
	var us *location.UnknownSchemeError
	if _, err := OpenLocation(ctx, "nope://x", "mem://"); !errors.As(err, &us) {
		t.Fatalf("unknown blob scheme: %v", err)
	}
	// A directory whose name holds an escape is still that directory (not
	// "aA b").
	dir := filepath.Join(t.TempDir(), "a%41 b")
	loc, err := DefaultLocation(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"blob", "consensus.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("default location not under %q: %v", dir, err)
		}
	}
	c := NewClient(loc, ClientOptions{})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	loc.Close()
	// Reopened, the shard is rebuilt from consensus alone.
	loc, err = DefaultLocation(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	st, err := NewClient(loc, ClientOptions{}).State(ctx, "s")
	if err != nil || !st.Upper.Equal(ts(1)) || len(st.Writers) != 0 {
		t.Fatalf("reopened state %+v %v", st, err)
	}
}

// cancelAfterSet is a blob that cancels a context once a Set has stored
// its value: an append's parts are then written and its compare-and-set
// never tried.
type cancelAfterSet struct {
	location.Blob
	cancel context.CancelFunc
}

func (b cancelAfterSet) Set(ctx context.Context, key string, value []byte) error {
	err := b.Blob.Set(ctx, key, value)
	b.cancel()
	return err
}

// An append whose context is cancelled after its parts are written and
// before any compare-and-set has certainly written nothing: it deletes its
// parts and says so with a determinate error, rather than leaving them to
// the janitor and its caller in doubt.
func TestAppendCancelledBeforeCommitDeletesParts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv()
	e.loc.Blob = cancelAfterSet{Blob: e.blob, cancel: cancel}
	c := e.client(blobParts)
	w, err := c.OpenWriter(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	err = w.CompareAndAppend(ctx, []Update{up("a", "x", 0, 1)}, ts(0), ts(1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("append = %v, want context.Canceled", err)
	}
	if locationIsIndeterminate(err) {
		t.Fatalf("append = %v: indeterminate, though no compare-and-set was tried", err)
	}
	if n := blobCount(t, e.blob, ""); n != 0 {
		t.Fatalf("%d blobs left by an append that wrote nothing", n)
	}
	st, err := c.State(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Upper.Equal(ts(0)) {
		t.Fatalf("upper %v after the cancelled append", st.Upper)
	}
}

// The same for a compaction: cancelled after writing its merged part and
// before any compare-and-set, it deletes the part and leaves the batches.
func TestCompactCancelledBeforeCommitDeletesParts(t *testing.T) {
	e := newEnv()
	c := e.client(blobParts)
	w, err := c.OpenWriter(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenReader(context.Background(), "s", "test")
	if err != nil {
		t.Fatal(err)
	}
	for i := range frontier.Time(3) {
		if err := w.CompareAndAppend(context.Background(), []Update{up("a", "x", i, 1)}, ts(i), ts(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.DowngradeSince(context.Background(), ts(3)); err != nil {
		t.Fatal(err)
	}
	before := blobCount(t, e.blob, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.loc.Blob = cancelAfterSet{Blob: e.blob, cancel: cancel}
	rep, err := e.client(blobParts).Compact(ctx, "s")
	if !errors.Is(err, context.Canceled) || locationIsIndeterminate(err) {
		t.Fatalf("compact = %+v, %v; want a determinate context.Canceled", rep, err)
	}
	if n := blobCount(t, e.blob, ""); n != before {
		t.Fatalf("%d blobs after the cancelled compaction, %d before", n, before)
	}
	st, err := c.State(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Batches) != 3 {
		t.Fatalf("%d batches after the cancelled compaction, want the 3 written", len(st.Batches))
	}
}

// An append from a writer that expired, or closed, registers it again with
// a lease, so GC expires it again once it goes quiet; before, the record
// came back with no lease and stayed in state for ever.
func TestAppendAfterExpiryOrCloseExpiresAgain(t *testing.T) {
	for _, how := range []string{"expired", "closed"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv()
			c := e.client(blobParts)
			w, err := c.OpenWriter(ctx, "s")
			if err != nil {
				t.Fatal(err)
			}
			switch how {
			case "expired":
				e.clock.Advance(2 * c.opts.LeaseDuration)
				if _, err := c.GC(ctx, "s"); err != nil {
					t.Fatal(err)
				}
			case "closed":
				if err := w.Close(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if st, _ := c.State(ctx, "s"); len(st.Writers) != 0 {
				t.Fatalf("writer still registered: %+v", st.Writers)
			}
			if err := w.CompareAndAppend(ctx, []Update{up("a", "", 0, 1)}, ts(0), ts(1)); err != nil {
				t.Fatal(err)
			}
			if st, _ := c.State(ctx, "s"); len(st.Writers) != 1 {
				t.Fatalf("the append did not record its writer: %+v", st.Writers)
			}
			e.clock.Advance(2 * c.opts.LeaseDuration)
			if _, err := c.GC(ctx, "s"); err != nil {
				t.Fatal(err)
			}
			if st, _ := c.State(ctx, "s"); len(st.Writers) != 0 {
				t.Fatalf("a writer quiet for two leases is still registered: %+v", st.Writers)
			}
		})
	}
}

// TestRefusalsAreDeterminate: what persist refuses before it can have any
// effect is determinate (location.IsIndeterminate false), and is persist's
// own error, not a store failure: an append whose expected upper is not
// the shard's, or whose updates are outside its bounds or overflow; a
// BatchBuilder update before its lower; a snapshot before the since; a
// heartbeat of an expired reader; a bad shard id. (The first four said
// they may have happened, and the invalid update was wrapped as a failed
// "location: persist append".)
func TestRefusalsAreDeterminate(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	if err := w.CompareAndAppend(ctx, nil, ts(0), ts(5)); err != nil {
		t.Fatal(err)
	}
	r, _ := c.OpenReader(ctx, "s", "")
	if err := r.DowngradeSince(ctx, ts(3)); err != nil {
		t.Fatal(err)
	}
	_, snapErr := r.Snapshot(ctx, 1)
	gone, _ := c.OpenReader(ctx, "s", "")
	if err := gone.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	_, badID := c.OpenWriter(ctx, "no/slashes")
	for name, err := range map[string]error{
		"upper mismatch":        w.CompareAndAppend(ctx, nil, ts(0), ts(7)),
		"time outside batch":    w.CompareAndAppend(ctx, []Update{up("a", "", 1, 1)}, ts(5), ts(7)),
		"diffs overflow":        w.CompareAndAppend(ctx, []Update{up("a", "", 5, math.MaxInt64), up("a", "", 5, 1)}, ts(5), ts(7)),
		"builder add early":     c.NewBatchBuilder("s", ts(5), 1<<10).Add(ctx, up("a", "", 1, 1)),
		"snapshot before since": snapErr,
		"expired heartbeat":     gone.Heartbeat(ctx),
		"bad shard id":          badID,
	} {
		var ext *location.ExternalError
		if err == nil || location.IsIndeterminate(err) || errors.As(err, &ext) || !strings.HasPrefix(err.Error(), "persist: ") {
			t.Errorf("%s: %v (indeterminate %v, store failure %v); want a determinate persist error", name, err, location.IsIndeterminate(err), errors.As(err, &ext))
		}
	}
}
