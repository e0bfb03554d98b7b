package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
)

// TestEncoderMatchesEncode drives a state through random transitions and
// checks that one Encoder, encoding every version in turn, writes exactly
// Encode's bytes: batches reused from the cache, batches replaced by
// compaction, readers and writers coming and going, unknown fields kept.
func TestEncoderMatchesEncode(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	var e Encoder
	s := New("s")
	s.unknown = newerFields("shard")
	upper := frontier.Time(0)
	for i := range 300 {
		switch op := rng.IntN(10); {
		case op < 6:
			n := rng.IntN(3)
			var ks []string
			for j := range n {
				ks = append(ks, fmt.Sprintf("p%d-%d", i, j))
			}
			b := batch(upper, upper+1, ks...)
			if rng.IntN(4) == 0 {
				b.unknown = newerFields("batch")
			}
			s, _ = s.CompareAndAppend(b, int64(i), 0)
			upper++
		case op < 7:
			s, _ = s.RegisterReader(fmt.Sprintf("r%d", i), "test", int64(i), 1000)
		case op < 8 && len(s.Readers) > 0:
			r := s.Readers[rng.IntN(len(s.Readers))]
			s, _ = s.DowngradeSince(r.ID, at(upper/2+1), s.SeqNo, int64(i))
		case op < 9 && len(s.Batches) >= 3:
			// Compact the first two batches into one new part.
			var replaced []string
			for _, b := range s.Batches[:2] {
				for _, p := range b.Parts {
					replaced = append(replaced, p.Key)
				}
			}
			first, second := s.Batches[0], s.Batches[1]
			c := batch(frontierMin(first.Lower), frontierMin(second.Upper), fmt.Sprintf("c%d", i))
			s, _, _ = s.ApplyCompaction(replaced, c)
		default:
			s = s.RegisterWriter(fmt.Sprintf("w%d", rng.IntN(3)), int64(i), 1000)
		}
		s.SeqNo++
		if got, want := e.Encode(s), Encode(s); !bytes.Equal(got, want) {
			t.Fatalf("seed %d, version %d: Encoder wrote %d bytes, Encode %d", seed, i, len(got), len(want))
		}
	}
}

func frontierMin(f Frontier) frontier.Time { return f.Elements()[0] }

// TestEncoderNoticesChangedBatch: a batch that keeps its parts slice but
// changes another field (its since, here) is encoded afresh, not served
// stale from the cache.
func TestEncoderNoticesChangedBatch(t *testing.T) {
	var e Encoder
	s := New("s")
	s, _ = s.CompareAndAppend(batch(0, 1, "a", "b"), 1, 0)
	e.Encode(s)
	changed := s
	changed.Batches = append([]Batch(nil), s.Batches...)
	changed.Batches[0].Since = at(1)
	if got, want := e.Encode(changed), Encode(changed); !bytes.Equal(got, want) {
		t.Fatal("the Encoder reused a batch's encoding after its since changed")
	}
	decoded, err := Decode(e.Encode(changed))
	if err != nil {
		t.Fatal(err)
	}
	if !decoded.Batches[0].Since.Equal(at(1)) {
		t.Fatalf("decoded since %v, want {1}", decoded.Batches[0].Since)
	}
}

// BenchmarkEncodeAppend encodes the version after an append to a shard of
// 2000 batches: with Encode, and with an Encoder that encoded the previous
// version.
func BenchmarkEncodeAppend(b *testing.B) {
	s := New("s")
	for i := range frontier.Time(2000) {
		s, _ = s.CompareAndAppend(batch(i, i+1, "parts/"+i.String()), 1, 0)
	}
	b.Run("Encode", func(b *testing.B) {
		for b.Loop() {
			Encode(s)
		}
	})
	b.Run("Encoder", func(b *testing.B) {
		var e Encoder
		e.Encode(s)
		next, _ := s.CompareAndAppend(batch(2000, 2001, "parts/2000"), 1, 0)
		for b.Loop() {
			e.Encode(next)
		}
	})
}
