package persist

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/shardflow/shardflow/persist/internal/statepb"
	"github.com/shardflow/shardflow/persist/location"
)

func futureField() []byte {
	b := protowire.AppendTag(nil, 900, protowire.BytesType)
	return protowire.AppendString(b, "from the future")
}

// commitEdited commits, as newer code would, the head of shard "s" with
// edit applied to it.
func commitEdited(t *testing.T, e *env, edit func(*statepb.ShardState)) {
	t.Helper()
	ctx := context.Background()
	head, ok, err := e.cons.Head(ctx, "s")
	if err != nil || !ok {
		t.Fatalf("head: %v, %v", ok, err)
	}
	var msg statepb.ShardState
	if err := proto.Unmarshal(head.Data, &msg); err != nil {
		t.Fatal(err)
	}
	edit(&msg)
	data, err := proto.Marshal(&msg)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.cons.CompareAndSet(ctx, "s", &head.SeqNo, location.VersionedData{SeqNo: head.SeqNo + 1, Data: data}); err != nil || res != location.Committed {
		t.Fatal(res, err)
	}
}

// State written by a newer version, with fields this version does not know
// and a part in a format it cannot read, is read, rewritten with the
// unknown parts intact, and fails only the fetch of the unreadable part.
func TestNewerStateIsReadAndKept(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	writeBatches(t, w, 0, 1)
	commitEdited(t, e, func(msg *statepb.ShardState) {
		msg.Version = 7
		msg.ProtoReflect().SetUnknown(futureField())
		msg.Batches[0].ProtoReflect().SetUnknown(futureField())
		msg.Batches = append(msg.Batches, &statepb.Batch{
			Lower: []uint64{1}, Upper: []uint64{2},
			// A newer format's statistics may mean something else: here
			// Rows is unset, which a part of a known format never is.
			Parts: []*statepb.Part{{Key: "s/p/future.columnar", Format: 42, MinTime: 1, MaxTime: 1}},
		})
		msg.Upper = []uint64{2}
	})

	old := e.client(ClientOptions{}) // "older" code: this version
	ow, err := old.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := ow.CompareAndAppend(ctx, []Update{up("x", "", 2, 1)}, ts(2), ts(3)); err != nil {
		t.Fatal(err)
	}
	head, _, _ := e.cons.Head(ctx, "s")
	var after statepb.ShardState
	if err := proto.Unmarshal(head.Data, &after); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after.ProtoReflect().GetUnknown(), futureField()) || !bytes.Equal(after.Batches[0].ProtoReflect().GetUnknown(), futureField()) {
		t.Fatal("unknown fields lost on rewrite")
	}
	if after.Batches[1].Parts[0].Format != 42 {
		t.Fatal("unknown part format lost on rewrite")
	}
	r, _ := old.OpenReader(ctx, "s", "")
	parts, err := r.Snapshot(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(parts)
	var unknown, fetched int
	for _, p := range parts {
		_, err := old.FetchLeased(ctx, p)
		switch {
		case errors.Is(err, ErrUnknownPartFormat):
			unknown++
		case err == nil:
			fetched++
		default:
			t.Fatal(err)
		}
	}
	if unknown != 1 || fetched != 2 {
		t.Fatalf("unknown %d fetched %d", unknown, fetched)
	}
	// The janitor must not reap the blob of a part it cannot read, nor a
	// blob the newer fields may reference (it cannot tell): it refuses.
	e.blob.Set(ctx, "s/p/future.columnar", []byte("newer format"))
	e.blob.Set(ctx, "s/future-index", []byte("named only by a newer field"))
	e.clock.Advance(1 << 40)
	if rep, err := old.Janitor(ctx, "s", 0); !errors.Is(err, ErrUnknownFields) || rep.OrphansReaped != 0 {
		t.Fatalf("janitor %+v %v, want ErrUnknownFields and nothing reaped", rep, err)
	}
	for _, k := range []string{"s/p/future.columnar", "s/future-index"} {
		if _, ok, _ := e.blob.Get(ctx, k); !ok {
			t.Fatalf("janitor reaped %s", k)
		}
	}
}

// Compaction would drop the newer fields of the batches it replaces: it
// refuses, and the fields stay.
func TestCompactionKeepsNewerFields(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	r, _ := c.OpenReader(ctx, "s", "")
	writeBatches(t, w, 0, 2)
	commitEdited(t, e, func(msg *statepb.ShardState) {
		msg.Batches[1].Parts[0].ProtoReflect().SetUnknown(futureField())
	})
	if err := r.DowngradeSince(ctx, ts(2)); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.Compact(ctx, "s"); !errors.Is(err, ErrUnknownFields) || rep.BatchesMerged != 0 {
		t.Fatalf("compact %+v %v, want ErrUnknownFields", rep, err)
	}
	head, _, _ := e.cons.Head(ctx, "s")
	var msg statepb.ShardState
	if err := proto.Unmarshal(head.Data, &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Batches) != 2 || !bytes.Equal(msg.Batches[1].Parts[0].ProtoReflect().GetUnknown(), futureField()) {
		t.Fatalf("newer part field lost: %d batches", len(msg.Batches))
	}
}

// Newer code adds a field to a part of a run while this code's compaction
// of the run, or a writer's automatic merge of it, reads the run's parts.
// The refusal must be made again on the state the merge commits onto:
// made only on the state it began from, the merged batch replaced the
// annotated one and the field was lost, with the compaction reporting 2
// batches merged and no error. (Both cases fail so without the check in
// compactRun's transition.)
func TestCompactionKeepsFieldsAddedWhileMerging(t *testing.T) {
	for _, via := range []string{"compact", "merge"} {
		t.Run(via, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv()
			// The first part read, once armed, lets newer code annotate
			// the batch that part belongs to.
			armed := false
			var once sync.Once
			blob := getHookBlob{Blob: e.blob, hook: func(key string) {
				if !armed {
					return
				}
				once.Do(func() {
					commitEdited(t, e, func(msg *statepb.ShardState) {
						for _, b := range msg.Batches {
							for _, p := range b.Parts {
								if p.Key == key {
									p.ProtoReflect().SetUnknown(futureField())
								}
							}
						}
					})
				})
			}}
			opts := ClientOptions{Clock: e.clock, BlobClock: e.clock, InlineWriteMaxBytes: -1, MergeFanIn: -1}
			if via == "merge" {
				opts.MergeFanIn = 2
			}
			c := NewClient(Location{Blob: blob, Consensus: e.cons}, opts)
			w, err := c.OpenWriter(ctx, "s")
			if err != nil {
				t.Fatal(err)
			}
			writeBatches(t, w, 0, 1)
			var compactErr error
			if via == "merge" {
				armed = true
				writeBatches(t, w, 1, 1) // a run of 2: merged after this append
				compactErr = w.MergeErr()
			} else {
				writeBatches(t, w, 1, 1)
				r, err := c.OpenReader(ctx, "s", "")
				if err != nil {
					t.Fatal(err)
				}
				if err := r.DowngradeSince(ctx, ts(2)); err != nil {
					t.Fatal(err)
				}
				armed = true
				var rep CompactReport
				rep, compactErr = c.Compact(ctx, "s")
				if rep.BatchesMerged != 0 {
					t.Errorf("compaction reported %+v", rep)
				}
			}
			if !errors.Is(compactErr, ErrUnknownFields) {
				t.Errorf("merge error %v, want ErrUnknownFields", compactErr)
			}
			head, _, _ := e.cons.Head(ctx, "s")
			var msg statepb.ShardState
			if err := proto.Unmarshal(head.Data, &msg); err != nil {
				t.Fatal(err)
			}
			annotated := 0
			for _, b := range msg.Batches {
				for _, p := range b.Parts {
					if bytes.Equal(p.ProtoReflect().GetUnknown(), futureField()) {
						annotated++
					}
				}
			}
			if len(msg.Batches) != 2 || annotated != 1 {
				t.Fatalf("head has %d batches, %d with the newer field; want 2, 1", len(msg.Batches), annotated)
			}
			// The merged part was deleted: only the two batches' parts are left.
			if n := blobCount(t, e.blob, "s/"); n != 2 {
				t.Fatalf("%d blobs, want 2", n)
			}
		})
	}
}

// getHookBlob calls hook with the key of each Get before reading it.
type getHookBlob struct {
	location.Blob
	hook func(key string)
}

func (b getHookBlob) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b.hook(key)
	return b.Blob.Get(ctx, key)
}

func TestStateRequiringNewerReaderIsRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	data, _ := proto.Marshal(&statepb.ShardState{Version: 9, MinReaderVersion: 9, Since: []uint64{0}, Upper: []uint64{0}})
	e.cons.CompareAndSet(ctx, "s", nil, location.VersionedData{SeqNo: 1, Data: data})
	c := e.client(ClientOptions{})
	if _, err := c.OpenWriter(ctx, "s"); !errors.Is(err, ErrStateIncompatible) {
		t.Fatalf("got %v", err)
	}
	if _, err := c.State(ctx, "s"); !errors.Is(err, ErrStateIncompatible) {
		t.Fatalf("got %v", err)
	}
	if head, _, _ := e.cons.Head(ctx, "s"); head.SeqNo != 1 {
		t.Fatal("incompatible state was rewritten")
	}
}

// A corrupt version in consensus is reported, and GC deletes nothing it
// cannot account for.
func TestCorruptStateVersion(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w, _ := c.OpenWriter(ctx, "s")
	writeBatches(t, w, 0, 2)
	head, _, _ := e.cons.Head(ctx, "s")
	e.cons.CompareAndSet(ctx, "s", &head.SeqNo, location.VersionedData{SeqNo: head.SeqNo + 1, Data: []byte("\x0a\xff garbage")})
	if _, err := e.client(blobParts).State(ctx, "s"); !errors.Is(err, ErrStateCorrupt) {
		t.Fatalf("state: %v", err)
	}
	if _, err := e.client(blobParts).GC(ctx, "s"); !errors.Is(err, ErrStateCorrupt) {
		t.Fatalf("gc: %v", err)
	}
	if n := blobCount(t, e.blob, "s/"); n != 2 {
		t.Fatalf("%d blobs", n)
	}
}

// A live state version with fields newer code wrote may reference blobs in
// them: GC deletes and truncates nothing and says why. Here the newer
// version keeps the batch's part in a field this code does not know, so
// the blob looks referenced only by the older versions GC would collect.
// Nor does it expire the reader whose lease ran out: newer code may hold
// it by such a field.
func TestGCRefusesLiveNewerFields(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	if _, err := c.OpenReader(ctx, "s", "stale"); err != nil {
		t.Fatal(err)
	}
	w, _ := c.OpenWriter(ctx, "s")
	if err := w.CompareAndAppend(ctx, []Update{up("a", "x", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	var key string
	commitEdited(t, e, func(msg *statepb.ShardState) {
		key = msg.Batches[0].Parts[0].Key
		moved := protowire.AppendTag(nil, 900, protowire.BytesType)
		moved = protowire.AppendString(moved, key)
		msg.Batches[0].Parts = nil
		msg.Batches[0].ProtoReflect().SetUnknown(moved)
	})
	versions, err := e.cons.Scan(ctx, "s", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour) // past the reader's and the writer's leases
	rep, err := c.GC(ctx, "s")
	if !errors.Is(err, ErrUnknownFields) {
		t.Fatalf("GC %+v, %v; want ErrUnknownFields", rep, err)
	}
	if _, ok, err := e.blob.Get(ctx, key); err != nil || !ok {
		t.Fatalf("GC deleted %s, which the newest version references in a newer field (%v)", key, err)
	}
	after, err := e.cons.Scan(ctx, "s", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(versions) || rep.BlobsDeleted != 0 || rep.VersionsTruncated != 0 || len(rep.ExpiredReaders) != 0 {
		t.Fatalf("GC %+v left %d of %d versions; want nothing deleted or truncated", rep, len(after), len(versions))
	}
}

// GC decides its refusal on the newest state, not on a client's cached
// one: once the fields newer code wrote are gone from the head, a client
// that last saw them collects again.
func TestGCDecidesOnTheHead(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w, _ := c.OpenWriter(ctx, "s")
	if err := w.CompareAndAppend(ctx, []Update{up("a", "x", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	commitEdited(t, e, func(msg *statepb.ShardState) { msg.ProtoReflect().SetUnknown(futureField()) })
	if _, err := c.GC(ctx, "s"); !errors.Is(err, ErrUnknownFields) {
		t.Fatalf("GC with newer fields at the head: %v, want ErrUnknownFields", err)
	}
	commitEdited(t, e, func(msg *statepb.ShardState) { msg.ProtoReflect().SetUnknown(nil) })
	if _, err := c.GC(ctx, "s"); err != nil {
		t.Fatalf("GC once the head has no newer fields: %v", err)
	}
}

// A version exactly at the oldest seqno hold is live: GC must account for
// every blob it may reference. One it cannot decode, or one with fields
// newer code wrote, stops GC rather than be taken for history. Here the
// batch's blob is referenced by the versions before the hold and, as far
// as GC can know, by the one at it, but not by the newer ones: taking the
// version at the hold for history would delete the blob under a reader.
func TestGCHoldsTheVersionAtTheHold(t *testing.T) {
	for _, tc := range []struct {
		name   string
		atHold func(valid []byte) []byte
		want   error
	}{
		{"undecodable", func([]byte) []byte { return []byte("\x0a\xff garbage") }, ErrStateCorrupt},
		{"newer fields", func(valid []byte) []byte {
			return append(append([]byte(nil), valid...), futureField()...)
		}, ErrUnknownFields},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv()
			c := e.client(blobParts)
			if _, err := c.OpenReader(ctx, "s", "at the hold"); err != nil {
				t.Fatal(err)
			}
			w, _ := c.OpenWriter(ctx, "s")
			if err := w.CompareAndAppend(ctx, []Update{up("a", "x", 0, 1)}, ts(0), ts(1)); err != nil {
				t.Fatal(err)
			}
			head, _, _ := e.cons.Head(ctx, "s")
			hold := head.SeqNo + 1
			if res, err := e.cons.CompareAndSet(ctx, "s", &head.SeqNo, location.VersionedData{SeqNo: hold, Data: tc.atHold(head.Data)}); err != nil || res != location.Committed {
				t.Fatal(res, err)
			}
			var msg statepb.ShardState
			if err := proto.Unmarshal(head.Data, &msg); err != nil {
				t.Fatal(err)
			}
			key := msg.Batches[0].Parts[0].Key
			msg.Batches[0].Parts[0].Key = "s/p/elsewhere"
			msg.Readers[0].SeqnoHold = uint64(hold)
			data, err := proto.Marshal(&msg)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := e.cons.CompareAndSet(ctx, "s", &hold, location.VersionedData{SeqNo: hold + 1, Data: data}); err != nil || res != location.Committed {
				t.Fatal(res, err)
			}
			rep, err := e.client(blobParts).GC(ctx, "s")
			if !errors.Is(err, tc.want) || rep.SeqNoHold != hold {
				t.Fatalf("GC %+v, %v; want %v at hold %d", rep, err, tc.want, hold)
			}
			if _, ok, err := e.blob.Get(ctx, key); err != nil || !ok {
				t.Fatalf("GC deleted %s, which the version at the hold may reference (%v)", key, err)
			}
		})
	}
}
