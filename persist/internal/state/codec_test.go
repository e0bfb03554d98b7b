package state

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/shardflow/shardflow/persist/internal/statepb"
)

// newerFields is what a future version might add to a message: a scalar, a
// string and a nested message, all with field numbers this code does not
// know.
func newerFields(tag string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 100, protowire.VarintType)
	b = protowire.AppendVarint(b, 42)
	b = protowire.AppendTag(b, 101, protowire.BytesType)
	b = protowire.AppendString(b, "newer-"+tag)
	var nested []byte
	nested = protowire.AppendTag(nested, 1, protowire.BytesType)
	nested = protowire.AppendString(nested, "critical-reader-"+tag)
	nested = protowire.AppendTag(nested, 2, protowire.VarintType)
	nested = protowire.AppendVarint(nested, 3)
	b = protowire.AppendTag(b, 102, protowire.BytesType)
	b = protowire.AppendBytes(b, nested)
	return b
}

// newerEncoding hand-builds state as newer code would write it: unknown
// fields on every message, an entry of a new kind (field 102, repeated), and
// a part of a format this code cannot read.
func newerEncoding(t *testing.T, minReader uint32) []byte {
	t.Helper()
	msg := &statepb.ShardState{
		Version: 3, MinReaderVersion: minReader, ShardId: "s",
		Since: []uint64{0}, Upper: []uint64{4},
		Batches: []*statepb.Batch{
			{Lower: []uint64{0}, Upper: []uint64{2}, Parts: []*statepb.Part{{Key: "s/p/a", Format: 1, Rows: 1}}},
			{Lower: []uint64{2}, Upper: []uint64{4}, Parts: []*statepb.Part{{Key: "s/p/future", Format: 9, Rows: 5}}},
		},
		Readers: []*statepb.Reader{{Id: "r", Since: []uint64{0}, LeaseDurationMs: 1000}},
		Writers: []*statepb.Writer{{Id: "w", MostRecentToken: "t"}},
	}
	msg.ProtoReflect().SetUnknown(newerFields("state"))
	msg.Batches[0].ProtoReflect().SetUnknown(newerFields("batch"))
	msg.Batches[1].Parts[0].ProtoReflect().SetUnknown(newerFields("part"))
	msg.Readers[0].ProtoReflect().SetUnknown(newerFields("reader"))
	msg.Writers[0].ProtoReflect().SetUnknown(newerFields("writer"))
	data, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeNewerStateKeepsUnknownOnRewrite(t *testing.T) {
	s, err := Decode(newerEncoding(t, 1))
	if err != nil {
		t.Fatalf("decoding newer state: %v", err)
	}
	if f := s.Batches[1].Parts[0].Format; f.Known() || f != 9 {
		t.Fatalf("unknown part format decoded as %v", f)
	}
	// Rewrite through several transitions, as older code would.
	s, _ = s.RegisterReader("r2", "", 1, 10)
	s, _ = s.DowngradeSince("r", at(1), 0, 2)
	s, _ = s.CompareAndAppend(batch(4, 6, "s/p/b"), 3, 0)
	var out statepb.ShardState
	if err := proto.Unmarshal(Encode(s), &out); err != nil {
		t.Fatal(err)
	}
	check := func(what string, m proto.Message, tag string) {
		t.Helper()
		if got := m.ProtoReflect().GetUnknown(); !bytes.Equal(got, newerFields(tag)) {
			t.Errorf("%s: unknown fields %x, want %x", what, got, newerFields(tag))
		}
	}
	check("state", &out, "state")
	check("batch", out.Batches[0], "batch")
	check("part", out.Batches[1].Parts[0], "part")
	check("reader", out.Readers[0], "reader")
	check("writer", out.Writers[0], "writer")
	if out.Batches[1].Parts[0].Format != 9 {
		t.Errorf("unknown part format rewritten as %v", out.Batches[1].Parts[0].Format)
	}
	if out.MinReaderVersion != 1 || out.Version != Version {
		t.Errorf("versions %d/%d", out.Version, out.MinReaderVersion)
	}
	// GC still sees the key of the part it cannot read.
	var keys []string
	s.BlobKeys(func(k string) { keys = append(keys, k) })
	if len(keys) != 3 || keys[1] != "s/p/future" {
		t.Errorf("blob keys %v", keys)
	}
}

func TestDecodeRefusesStateNeedingNewerReader(t *testing.T) {
	_, err := Decode(newerEncoding(t, Version+1))
	if !errors.Is(err, ErrIncompatible) {
		t.Fatalf("got %v, want ErrIncompatible", err)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := Encode(New("s"))
	for name, data := range map[string][]byte{
		"garbage":   []byte("\xff\xff\xff\xff"),
		"truncated": newerEncoding(t, 1)[:20],
		"empty":     nil,
		"gap":       marshalPB(&statepb.ShardState{Version: 1, Upper: []uint64{5}, Batches: []*statepb.Batch{{Lower: []uint64{0}, Upper: []uint64{2}}}}),
		// Times are totally ordered: Encode never writes a frontier of two,
		// and decoding one kept its least time. (Before, these decoded.)
		"shard upper [5 3]":  marshalPB(&statepb.ShardState{Version: 1, Upper: []uint64{5, 3}}),
		"shard since [0 9]":  marshalPB(&statepb.ShardState{Version: 1, Since: []uint64{0, 9}}),
		"batch upper [3 5]":  marshalPB(&statepb.ShardState{Version: 1, Upper: []uint64{3}, Batches: []*statepb.Batch{{Lower: []uint64{0}, Upper: []uint64{3, 5}}}}),
		"reader since [2 1]": marshalPB(&statepb.ShardState{Version: 1, Readers: []*statepb.Reader{{Id: "r", Since: []uint64{2, 1}}}}),
		"writer upper [4 4]": marshalPB(&statepb.ShardState{Version: 1, Writers: []*statepb.Writer{{Id: "w", MostRecentUpper: []uint64{4, 4}}}}),
	} {
		if _, err := Decode(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := Decode(good); err != nil {
		t.Fatal(err)
	}
}

func marshalPB(m *statepb.ShardState) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func TestEncodeRoundTrip(t *testing.T) {
	s := New("s")
	s, _ = s.CompareAndAppend(batch(0, 2, "a", "b"), 1, 0)
	s, _ = s.RegisterReader("r", "p", 1, 2)
	s = s.RegisterWriter("w2", 3, 4)
	d, err := Decode(Encode(s))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Encode(d), Encode(s)) {
		t.Fatal("round trip changed the encoding")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(New("s")))
	s := New("s")
	s, _ = s.CompareAndAppend(batch(0, 2, "a", "b"), 1, 0)
	s, _ = s.RegisterReader("r", "p", 1, 2)
	f.Add(Encode(s))
	f.Add([]byte{0x08, 0x01, 0x2a, 0x01, 0x05})
	f.Add([]byte("\b\x01\x10\x01\x1a\x01s\"\x01\x05*\x01\x00:\b\n\x01r\"\x01\x000\nH\x01")) // a reader behind the since
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrIncompatible) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrIncompatible", err)
			}
			return
		}
		// Whatever decodes must survive a rewrite unchanged, and read
		// queries. Decode takes a reader whose since is before the shard's,
		// which Encode refuses under the invariants tag; no transition
		// makes one.
		if s.checkReaderSinces() != nil {
			return
		}
		enc := Encode(s)
		s2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if again := Encode(s2); !bytes.Equal(again, enc) {
			t.Fatalf("a rewrite changed the encoding:\n%x\n%x", enc, again)
		}
		s.SnapshotBatches(3)
		s.ListenBatch(at(1))
		s.RegisterReader("x", "", 0, 1)
	})
}
