package persist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/mem"
	"github.com/shardflow/shardflow/persist/persisttest"
)

// writeBatches appends n one-row batches at times 0..n-1.
func writeBatches(t *testing.T, w *WriteHandle, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		k := fmt.Sprintf("k%d", i)
		if err := w.CompareAndAppend(context.Background(), []Update{up(k, "", uint64Time(i), 1)}, ts(uint64Time(i)), ts(uint64Time(i+1))); err != nil {
			t.Fatal(err)
		}
	}
}

// compactAndGC moves a second reader's since to t, compacts and collects.
func compactAndGC(t *testing.T, c *Client, adv *ReadHandle, since int) GCReport {
	t.Helper()
	ctx := context.Background()
	if err := adv.DowngradeSince(ctx, ts(uint64Time(since))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if err := adv.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := c.GC(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestGCKeepsLeasedBlobUntilReleased(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w, _ := c.OpenWriter(ctx, "s")
	writeBatches(t, w, 0, 3)
	r, _ := c.OpenReader(ctx, "s", "holder")
	parts, err := r.Snapshot(ctx, 2)
	if err != nil || len(parts) != 3 {
		t.Fatalf("%d parts, %v", len(parts), err)
	}
	// The holder moves its since (so compaction replaces the parts it
	// holds) but keeps its leases.
	if err := r.DowngradeSince(ctx, ts(3)); err != nil {
		t.Fatal(err)
	}
	rep := compactAndGC(t, c, r, 3)
	if rep.BlobsDeleted != 0 {
		t.Fatalf("GC deleted %d blobs while leases were live", rep.BlobsDeleted)
	}
	if _, err := fetchAll(ctx, c, parts); err != nil { // releases the leases
		t.Fatalf("fetching leased parts after GC: %v", err)
	}
	if err := r.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err = c.GC(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if rep.BlobsDeleted != 3 {
		t.Fatalf("GC deleted %d blobs after the leases dropped, want 3", rep.BlobsDeleted)
	}
	if n := blobCount(t, e.blob, "s/"); n != 1 {
		t.Fatalf("%d blobs left, want the one compacted part", n)
	}
}

// GC and compaction run continuously beside a reader taking and fetching
// leased parts: no fetch of a leased part ever finds its blob missing.
func TestGCConcurrentWithLeasedReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv()
	c := e.client(ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	r, _ := c.OpenReader(ctx, "s", "reader")
	var wg sync.WaitGroup
	var cycles atomic.Int64 // completed compact+GC cycles
	waitCycles := func() {
		target := cycles.Load() + 2
		eventually(t, "a compact+GC cycle", func() bool { return cycles.Load() >= target })
	}
	gcErr := make(chan error, 2)
	// Two collectors at once: every step must tolerate the other.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := c.Compact(ctx, "s"); err != nil && ctx.Err() == nil {
					gcErr <- err
					return
				}
				if _, err := c.GC(ctx, "s"); err != nil && ctx.Err() == nil {
					gcErr <- err
					return
				}
				cycles.Add(1)
			}
		}()
	}
	deleted := 0
	for i := range 60 {
		writeBatches(t, w, i, 1)
		asOf := uint64Time(i)
		parts, err := r.Snapshot(ctx, asOf)
		if err != nil {
			t.Fatal(err)
		}
		// Downgrade the since before fetching: compaction may now replace
		// these parts, but the leases keep their blobs.
		if err := r.DowngradeSince(ctx, ts(asOf)); err != nil {
			t.Fatal(err)
		}
		// Let compaction replace the parts, heartbeat (the hold may now
		// move up to the oldest live lease) and let GC run after that.
		waitCycles()
		if err := r.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
		waitCycles()
		got, err := fetchAll(ctx, c, parts)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if len(got) != i+1 {
			t.Fatalf("step %d: %d rows, want %d", i, len(got), i+1)
		}
		select {
		case err := <-gcErr:
			t.Fatal(err)
		default:
		}
	}
	cancel()
	wg.Wait()
	if _, err := c.Compact(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	if err := r.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := c.GC(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	deleted += rep.BlobsDeleted
	if n := blobCount(t, e.blob, "s/"); n > 3 {
		t.Errorf("%d blobs left: GC never collected the compacted parts", n)
	}
}

func TestFetchAfterExpiryReportsBlobMissing(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{LeaseDuration: time.Minute, InlineWriteMaxBytes: -1, MergeFanIn: -1})
	w, _ := c.OpenWriter(ctx, "s")
	writeBatches(t, w, 0, 2)
	r, _ := c.OpenReader(ctx, "s", "slow")
	other, _ := c.OpenReader(ctx, "s", "fast")
	parts, err := r.Snapshot(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute) // r's lease runs out
	if err := other.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.GC(ctx, "s"); err != nil || len(rep.ExpiredReaders) != 1 {
		t.Fatalf("GC did not expire the slow reader: %+v %v", rep, err)
	}
	compactAndGC(t, c, other, 2)
	_, err = c.FetchLeased(ctx, parts[0])
	var bm *BlobMissingError
	if !errors.Is(err, ErrBlobMissing) || !errors.As(err, &bm) || !bm.ReaderExpired || bm.Key != parts[0].Desc.Key {
		t.Fatalf("got %v, want a missing blob of an expired reader", err)
	}
	for _, p := range parts {
		p.Lease.Release()
	}
}

func TestFetchCorruptBlob(t *testing.T) {
	ctx := context.Background()
	e, c, r, parts := threeBlobParts(t)
	damage(ctx, e, parts)
	for i, want := range []error{ErrBlobCorrupt, ErrBlobCorrupt, ErrBlobMissing} {
		if _, err := c.FetchLeased(ctx, parts[i]); !errors.Is(err, want) {
			t.Errorf("part %d: got %v, want %v", i, err, want)
		}
	}
	var bm *BlobMissingError
	if _, err := c.FetchLeased(ctx, parts[2]); !errors.As(err, &bm) || bm.ReaderExpired || bm.ReaderID != r.ID() {
		t.Errorf("missing blob of a live reader: %+v", bm)
	}
	// A part whose checksum was recorded wrongly but whose bytes are garbage
	// that matches it still fails to decode, without a panic.
	garbage := []byte("PAR1 definitely not parquet PAR1")
	e.blob.Set(ctx, "s/p/garbage", garbage)
	d := parts[0].Desc
	d.Key, d.Bytes, d.Checksum, d.Rows = "s/p/garbage", int64(len(garbage)), partChecksum(garbage), 1
	if _, err := c.Fetch(ctx, "s", d, parts[0].Filter); !errors.Is(err, ErrBlobCorrupt) {
		t.Errorf("garbage part: %v", err)
	}
	rep, err := c.Verify(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Missing) != 1 || len(rep.Corrupt) != 2 || rep.Parts != 3 {
		t.Fatalf("verify: %+v", rep)
	}
}

func TestJanitorReapsOldOrphansOnly(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w, _ := c.OpenWriter(ctx, "s")
	writeBatches(t, w, 0, 2)
	e.blob.Set(ctx, "s/p/dead-writer.parquet", []byte("orphan"))
	e.blob.Set(ctx, "s/p/partial.123.tmp", []byte("half"))
	e.blob.Set(ctx, "other/p/x", []byte("another shard"))
	rep, err := c.Janitor(ctx, "s", time.Hour)
	if err != nil || rep.OrphansReaped != 0 {
		t.Fatalf("young orphans reaped: %+v %v", rep, err)
	}
	e.clock.Advance(2 * time.Hour)
	e.blob.Set(ctx, "s/p/in-flight.parquet", []byte("young"))
	rep, err = c.Janitor(ctx, "s", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OrphansReaped != 2 || rep.TempReaped != 1 || rep.Listed != 5 {
		t.Fatalf("janitor %+v", rep)
	}
	if v, err := c.Verify(ctx, "s"); err != nil || !v.OK() {
		t.Fatalf("janitor removed referenced parts: %+v %v", v, err)
	}
	if _, ok, _ := e.blob.Get(ctx, "s/p/in-flight.parquet"); !ok {
		t.Fatal("young blob reaped")
	}
	if _, ok, _ := e.blob.Get(ctx, "other/p/x"); !ok {
		t.Fatal("another shard's blob reaped")
	}
}

// TestJanitorLeavesKeysPersistDoesNotName: the janitor reaps only keys
// named as persist names parts, and the temporary files beside them. A
// location nested inside this one (s3://b/prod/eu inside s3://b/prod) keeps
// its shards' parts under "eu/" here: the janitor of a shard "eu" deleted
// every one of them, leaving that location's committed state pointing at
// missing parts.
func TestJanitorLeavesKeysPersistDoesNotName(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	// What a location at "eu/" of the same store would hold.
	nested := Location{Blob: prefixBlob{Blob: e.blob, prefix: "eu/"}, Consensus: mem.NewConsensus()}
	inner := NewClient(nested, ClientOptions{InlineWriteMaxBytes: -1, MergeFanIn: -1, Clock: e.clock, BlobClock: e.clock})
	w, err := inner.OpenWriter(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	writeBatches(t, w, 0, 2)
	foreign := []string{"eu/p/sub/x.parquet", "eu/p/", "eu/p/notes.txt", "eu/README"}
	for _, k := range append(foreign, "eu/p/dead.parquet", "eu/p/dead.parquet.12.tmp") {
		if err := e.blob.Set(ctx, k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(2 * time.Hour)
	rep, err := c.Janitor(ctx, "eu", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OrphansReaped != 2 || rep.TempReaped != 1 || rep.Foreign != len(foreign)+2 {
		t.Fatalf("janitor %+v, want the two orphans reaped and %d foreign keys left", rep, len(foreign)+2)
	}
	if v, err := inner.Verify(ctx, "orders"); err != nil || !v.OK() || v.Parts != 2 {
		t.Fatalf("the nested location's shard after the janitor: %+v, %v", v, err)
	}
	for _, k := range foreign {
		if _, ok, _ := e.blob.Get(ctx, k); !ok {
			t.Errorf("%s reaped", k)
		}
	}
}

// prefixBlob is a Blob whose keys live under prefix in another Blob.
type prefixBlob struct {
	location.Blob
	prefix string
}

func (b prefixBlob) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return b.Blob.Get(ctx, b.prefix+key)
}

func (b prefixBlob) Set(ctx context.Context, key string, value []byte) error {
	return b.Blob.Set(ctx, b.prefix+key, value)
}

func (b prefixBlob) Delete(ctx context.Context, key string) (bool, error) {
	return b.Blob.Delete(ctx, b.prefix+key)
}

func (b prefixBlob) List(ctx context.Context, prefix string, fn func(location.BlobMeta) error) error {
	return b.Blob.List(ctx, b.prefix+prefix, func(m location.BlobMeta) error {
		m.Key = strings.TrimPrefix(m.Key, b.prefix)
		return fn(m)
	})
}

// The janitor measures a blob's age by the blob store's clock, not by the
// lease clock: a lease clock moved far ahead (to expire readers) must not
// make a part written a moment ago, by a writer yet to commit, look old.
func TestJanitorAgeUsesBlobClock(t *testing.T) {
	ctx := context.Background()
	leaseClock := newManualClock()
	leaseClock.t = time.Now().Add(24 * time.Hour)
	b := mem.NewBlob() // stamps ModTime with the system clock
	c := NewClient(Location{Blob: b, Consensus: mem.NewConsensus()}, ClientOptions{Clock: leaseClock})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	writeBatches(t, w, 0, 1)
	b.Set(ctx, "s/p/in-flight.parquet", []byte("not committed yet"))
	rep, err := c.Janitor(ctx, "s", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OrphansReaped != 0 {
		t.Fatalf("janitor reaped a blob written just now: %+v", rep)
	}
}

// A missing blob whose reader cannot be checked (the state read fails)
// says so, instead of claiming the reader is still registered.
func TestBlobMissingWhenStateUnreadable(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	faults := persisttest.NewFaults(1)
	c := NewClient(Location{Blob: e.blob, Consensus: persisttest.NewFaultyConsensus(e.cons, faults)}, ClientOptions{Clock: e.clock})
	faults.FailNext(persisttest.OpConsensusHead, persisttest.Determinate)
	_, err := c.Fetch(ctx, "s", PartDesc{Key: "s/p/gone", Format: 1}, FetchFilter{Mode: SnapshotRead, ReaderID: "r-1"})
	var bm *BlobMissingError
	if !errors.As(err, &bm) || bm.CheckErr == nil || bm.ReaderExpired {
		t.Fatalf("got %v, want a missing blob whose reader check failed", err)
	}
}

// shortScan returns at most two versions a Scan, as the Consensus contract
// ("up to limit") allows.
type shortScan struct{ location.Consensus }

func (s shortScan) Scan(ctx context.Context, key string, from location.SeqNo, limit int) ([]location.VersionedData, error) {
	return s.Consensus.Scan(ctx, key, from, min(limit, 2))
}

// GC and the janitor read every version even from a backend whose Scan
// returns short pages: stopping at the first short page would leave the
// newest versions unseen and their blobs deleted.
func TestCollectorsReadShortScanPages(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	e.loc.Consensus = shortScan{e.cons}
	c := e.client(ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	writeBatches(t, w, 0, 3)
	if _, err := c.GC(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := c.Janitor(ctx, "s", time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Verify(ctx, "s"); err != nil || !v.OK() || v.Parts != 3 {
		t.Fatalf("after GC and the janitor: %+v %v", v, err)
	}
}

// listHookBlob runs afterList once a List has returned its listing.
type listHookBlob struct {
	location.Blob
	afterList func()
}

func (b *listHookBlob) List(ctx context.Context, prefix string, fn func(location.BlobMeta) error) error {
	err := b.Blob.List(ctx, prefix, fn)
	if after := b.afterList; after != nil {
		b.afterList = nil
		after()
	}
	return err
}

// The janitor lists the blobs before it reads the state versions: a part
// written long ago whose append commits between the two is listed, old
// enough to reap, and then seen referenced, so it stays. (Read the other
// way round, the commit falls after the read and the part is taken for an
// orphan.)
func TestJanitorListsBeforeItReadsState(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	hb := &listHookBlob{Blob: e.blob}
	loc := Location{Blob: hb, Consensus: e.cons}
	opts := blobParts
	opts.Clock, opts.BlobClock, opts.LeaseDuration = e.clock, e.clock, 24*time.Hour
	c := NewClient(loc, opts)
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	// A buffer of one byte: each update is a run, and Seal merges the
	// runs into the part's blob, written now.
	b := c.NewBatchBuilder("s", ts(0), 1)
	for _, k := range []string{"a", "b", "c"} {
		if err := b.Add(ctx, up(k, "x", 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	hb.afterList = func() {
		if err := w.AppendBatch(ctx, b, ts(1)); err != nil {
			t.Errorf("append between the listing and the state read: %v", err)
		}
	}
	rep, err := c.Janitor(ctx, "s", 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Listed != 1 || rep.OrphansFound != 0 || rep.OrphansReaped != 0 {
		t.Fatalf("janitor %+v: want the part listed and kept", rep)
	}
	if v, err := c.Verify(ctx, "s"); err != nil || !v.OK() || v.Parts != 1 {
		t.Fatalf("the janitor reaped the committed part: %+v %v", v, err)
	}
}
