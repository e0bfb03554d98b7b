package state

import (
	"errors"
	"strconv"
	"testing"

	"github.com/shardflow/shardflow/frontier"
)

func at(ts ...frontier.Time) Frontier { return frontier.NewAntichain(ts...) }

func batch(lower, upper frontier.Time, keys ...string) Batch {
	b := Batch{Lower: at(lower), Upper: at(upper), WriterID: "w", Token: "tok" + upper.String()}
	for _, k := range keys {
		b.Parts = append(b.Parts, Part{Key: k, Format: FormatParquetV1, Rows: 1})
	}
	return b
}

func TestCompareAndAppend(t *testing.T) {
	s := New("s")
	s, out := s.CompareAndAppend(batch(0, 3, "a"), 1, 0)
	if out != Appended || !s.Upper.Equal(at(3)) {
		t.Fatalf("append: %v upper %v", out, s.Upper)
	}
	if _, out := s.CompareAndAppend(Batch{Lower: at(0), Upper: at(5), Token: "x", WriterID: "w"}, 1, 0); out != UpperMismatch {
		t.Fatalf("stale lower: %v", out)
	}
	if _, out := s.CompareAndAppend(batch(0, 3, "a"), 1, 0); out != AlreadyAppended {
		t.Fatalf("retry with same token: %v", out)
	}
	if _, out := s.CompareAndAppend(Batch{Lower: at(3), Upper: at(2), Token: "y"}, 1, 0); out != InvalidBounds {
		t.Fatalf("backwards upper: %v", out)
	}
	// Empty batches extend the last empty batch.
	s, _ = s.CompareAndAppend(Batch{Lower: at(3), Upper: at(4), Token: "e1"}, 1, 0)
	s, _ = s.CompareAndAppend(Batch{Lower: at(4), Upper: at(6), Token: "e2"}, 1, 0)
	if len(s.Batches) != 2 || !s.Batches[1].Upper.Equal(at(6)) {
		t.Fatalf("empty batches not merged: %+v", s.Batches)
	}
	w, ok := s.Writer("w")
	if !ok || w.MostRecentToken != "tok3" || !w.MostRecentUpper.Equal(at(3)) {
		t.Fatalf("writer record: %+v", w)
	}
	s.CheckInvariants()
}

func TestTransitionsDoNotModifyInput(t *testing.T) {
	s := New("s")
	s, _ = s.CompareAndAppend(batch(0, 1, "a"), 1, 0)
	s, _ = s.RegisterReader("r", "test", 1, 10)
	before := Encode(s)
	s.CompareAndAppend(batch(1, 2, "b"), 2, 0)
	s.DowngradeSince("r", at(1), 5, 3)
	s.ExpireReader("r")
	s.RegisterReader("q", "x", 1, 1)
	s.ApplyCompaction([]string{"a"}, batch(0, 1, "c"))
	if string(Encode(s)) != string(before) {
		t.Fatal("a transition modified its input")
	}
}

func TestSinceIsMeetOfReadersAndNeverRegresses(t *testing.T) {
	s := New("s")
	s, _ = s.RegisterReader("a", "", 0, 10)
	s, _ = s.RegisterReader("b", "", 0, 10)
	s, _ = s.DowngradeSince("a", at(5), 0, 0)
	if !s.Since.Equal(at(0)) {
		t.Fatalf("since %v, want [0] while b holds 0", s.Since)
	}
	s, _ = s.DowngradeSince("b", at(3), 0, 0)
	if !s.Since.Equal(at(3)) {
		t.Fatalf("since %v, want [3]", s.Since)
	}
	s, _ = s.DowngradeSince("a", at(1), 0, 0) // regression ignored
	if r, _ := s.Reader("a"); !r.Since.Equal(at(5)) {
		t.Fatalf("reader since regressed to %v", r.Since)
	}
	s, _ = s.ExpireReader("b")
	if !s.Since.Equal(at(5)) {
		t.Fatalf("since %v after b expired, want [5]", s.Since)
	}
	// A new reader starts at the shard since, and expiring every reader
	// leaves the since where it is.
	s, r := s.RegisterReader("c", "", 0, 10)
	if !r.Since.Equal(at(5)) {
		t.Fatalf("new reader since %v", r.Since)
	}
	s, _ = s.ExpireReader("a")
	s, _ = s.ExpireReader("c")
	if !s.Since.Equal(at(5)) {
		t.Fatalf("since %v with no readers", s.Since)
	}
	s.CheckInvariants()
}

func TestSeqNoHoldNeverRegresses(t *testing.T) {
	s := New("s")
	s.SeqNo = 7
	s, r := s.RegisterReader("a", "", 0, 10)
	if r.SeqNoHold != 7 || s.MinHold() != 7 {
		t.Fatalf("hold %d min %d", r.SeqNoHold, s.MinHold())
	}
	s, _ = s.HeartbeatReader("a", 9, 1)
	s, _ = s.HeartbeatReader("a", 8, 2)
	if r, _ := s.Reader("a"); r.SeqNoHold != 9 || r.LastHeartbeatMs != 2 {
		t.Fatalf("reader %+v", r)
	}
	if _, ok := s.HeartbeatReader("gone", 1, 1); ok {
		t.Fatal("heartbeat of a missing reader succeeded")
	}
}

func TestExpireStale(t *testing.T) {
	s := New("s")
	s, _ = s.RegisterReader("old", "", 0, 10)
	s, _ = s.RegisterReader("new", "", 5, 10)
	s = s.RegisterWriter("w", 0, 10)
	s, expired := s.ExpireStale(11)
	if len(expired) != 1 || expired[0] != "old" {
		t.Fatalf("expired %v", expired)
	}
	if _, ok := s.Writer("w"); ok {
		t.Fatal("stale writer kept")
	}
	if _, ok := s.Reader("new"); !ok {
		t.Fatal("live reader expired")
	}
}

func TestApplyCompaction(t *testing.T) {
	s := New("s")
	s, _ = s.CompareAndAppend(batch(0, 1, "a"), 1, 0)
	s, _ = s.CompareAndAppend(batch(1, 2, "b", "c"), 1, 0)
	s, _ = s.CompareAndAppend(batch(2, 3, "d"), 1, 0)
	c := batch(0, 2, "m")
	n, run, ok := s.ApplyCompaction([]string{"a", "b", "c"}, c)
	if !ok || len(n.Batches) != 2 || n.Batches[0].Parts[0].Key != "m" {
		t.Fatalf("compaction not applied: %+v", n.Batches)
	}
	n.CheckInvariants()
	// The run replaced, as it was, and s left as it was.
	if len(run) != 2 || run[0].Parts[0].Key != "a" || run[1].Parts[1].Key != "c" || len(s.Batches) != 3 || s.Batches[0].Parts[0].Key != "a" {
		t.Fatalf("run %+v, state after %+v", run, s.Batches)
	}
	if _, _, ok := n.ApplyCompaction([]string{"a", "b", "c"}, c); ok {
		t.Fatal("second compaction of the same run applied")
	}
	if _, _, ok := s.ApplyCompaction([]string{"a", "b"}, c); ok {
		t.Fatal("compaction with different parts applied")
	}
}

func TestSnapshotAndListenBatches(t *testing.T) {
	s := New("s")
	if _, ready, err := s.SnapshotBatches(0); ready || err != nil {
		t.Fatalf("snapshot of empty shard ready=%v err=%v", ready, err)
	}
	s, _ = s.CompareAndAppend(batch(0, 2, "a"), 1, 0)
	s, _ = s.CompareAndAppend(batch(2, 4, "b"), 1, 0)
	bs, ready, err := s.SnapshotBatches(1)
	if err != nil || !ready || len(bs) != 1 {
		t.Fatalf("snapshot at 1: %v %v %v", bs, ready, err)
	}
	if bs, _, _ := s.SnapshotBatches(3); len(bs) != 2 {
		t.Fatalf("snapshot at 3: %d batches", len(bs))
	}
	if _, ready, _ := s.SnapshotBatches(4); ready {
		t.Fatal("snapshot at the upper is ready")
	}
	s, _ = s.RegisterReader("r", "", 0, 1)
	s, _ = s.DowngradeSince("r", at(2), 0, 0)
	_, _, err = s.SnapshotBatches(1)
	var sa *SinceAdvancedError
	if !errors.Is(err, ErrSinceAdvanced) || !errors.As(err, &sa) || !sa.Since.Equal(at(2)) {
		t.Fatalf("snapshot below since: %v", err)
	}
	if b, ok := s.ListenBatch(at(3)); !ok || b.Parts[0].Key != "b" {
		t.Fatalf("listen batch at 3: %+v %v", b, ok)
	}
	if _, ok := s.ListenBatch(at(4)); ok {
		t.Fatal("listen batch at the upper")
	}
	if _, ok := s.ListenBatch(Frontier{}); ok {
		t.Fatal("listen batch at the empty frontier")
	}
}

// An empty append does not extend an empty batch that carries fields newer
// code wrote (it may hold what this code cannot see): it becomes a batch of
// its own, and the old one keeps its since and its fields.
func TestEmptyAppendKeepsBatchWithUnknownFields(t *testing.T) {
	s := New("s")
	s, _ = s.CompareAndAppend(Batch{Lower: at(0), Upper: at(2), Token: "e1"}, 1, 0)
	s.Batches[0].Since = at(1)
	s.Batches[0].unknown = []byte{0xfa, 0x01, 0x01}
	s, out := s.CompareAndAppend(Batch{Lower: at(2), Upper: at(4), Token: "e2"}, 1, 0)
	if out != Appended || len(s.Batches) != 2 {
		t.Fatalf("%v: %d batches, want the newer batch left alone and a new one", out, len(s.Batches))
	}
	if b := s.Batches[0]; !b.Upper.Equal(at(2)) || !b.Since.Equal(at(1)) || !b.HasUnknown() {
		t.Fatalf("the batch with unknown fields changed: %+v", b)
	}
}

// Nor does it extend the empty batch a compaction whose rows cancelled
// left, with a since: that since tells a listen behind it that rows were
// compacted away. The empty appends after it extend a batch of their own,
// so state still grows by one batch, not one per append.
func TestEmptyAppendKeepsCompactedEmptyBatch(t *testing.T) {
	s := New("s")
	s, _ = s.CompareAndAppend(Batch{Lower: at(0), Upper: at(2), Token: "e1"}, 1, 0)
	s.Batches[0].Since = at(2)
	for i := range 3 {
		var out AppendOutcome
		s, out = s.CompareAndAppend(Batch{Lower: at(frontier.Time(2 + 2*i)), Upper: at(frontier.Time(4 + 2*i)), Token: strconv.Itoa(i + 2)}, 1, 0)
		if out != Appended {
			t.Fatal(out)
		}
	}
	if len(s.Batches) != 2 {
		t.Fatalf("%d batches after three empty appends, want the compacted one and one more", len(s.Batches))
	}
	if b := s.Batches[0]; !b.Upper.Equal(at(2)) || !b.Since.Equal(at(2)) {
		t.Fatalf("the compacted batch changed: %+v", b)
	}
	if b := s.Batches[1]; !b.Lower.Equal(at(2)) || !b.Upper.Equal(at(8)) || !b.Since.IsEmpty() {
		t.Fatalf("the empty appends' batch: %+v", b)
	}
}

// A writer whose record has no lease (earlier code re-registered writers
// so) gets one with its next append, and then expires like any other.
func TestAppendGivesLeaselessWriterALease(t *testing.T) {
	s := New("s").RegisterWriter("w", 0, 0)
	s, out := s.CompareAndAppend(Batch{Lower: at(0), Upper: at(1), Token: "t", WriterID: "w"}, 5, 10)
	if out != Appended {
		t.Fatal(out)
	}
	if w, _ := s.Writer("w"); w.LeaseDurationMs != 10 {
		t.Fatalf("writer lease %d after an append with lease 10", w.LeaseDurationMs)
	}
	if s, _ = s.ExpireStale(16); len(s.Writers) != 0 {
		t.Fatalf("the writer did not expire: %+v", s.Writers)
	}
}
