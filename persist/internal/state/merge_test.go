package state

import (
	"fmt"
	"testing"

	"github.com/shardflow/shardflow/frontier"
)

// sized returns consecutive batches from 0 with one part of each size (0:
// no parts).
func sized(sizes ...int64) State {
	s := New("s")
	for i, size := range sizes {
		t := frontier.Time(i)
		b := Batch{Lower: at(t), Upper: at(t + 1)}
		if size > 0 {
			b.Parts = []Part{{Key: fmt.Sprintf("p%d", i), Format: FormatParquetV1, Bytes: size, Rows: 1}}
		}
		s.Batches = append(s.Batches, b)
	}
	if n := len(sizes); n > 0 {
		s.Upper = at(frontier.Time(n))
	}
	return s
}

func TestSizeLevel(t *testing.T) {
	for _, c := range []struct {
		bytes int64
		level int
	}{{0, 0}, {1, 0}, {4095, 0}, {4096, 1}, {16383, 1}, {16384, 2}, {65535, 2}, {65536, 3}, {1 << 30, 10}} {
		if got := sizeLevel(c.bytes); got != c.level {
			t.Errorf("sizeLevel(%d) = %d, want %d", c.bytes, got, c.level)
		}
	}
}

func TestMergeRun(t *testing.T) {
	const k = 1 << 10
	for _, c := range []struct {
		name       string
		s          State
		fanIn      int
		maxBytes   int64
		first, end int
		ok         bool
	}{
		{"too few", sized(1*k, 1*k, 1*k), 4, 1 << 30, 0, 0, false},
		{"newest run", sized(1*k, 1*k, 1*k, 1*k), 4, 1 << 30, 0, 4, true},
		{"empty batches are level 0", sized(0, 1*k, 0, 2*k), 4, 1 << 30, 0, 4, true},
		{"a bigger batch ends the run", sized(1*k, 1*k, 64*k, 1*k, 1*k, 1*k), 4, 1 << 30, 0, 0, false},
		{"run behind a newer short one", sized(64*k, 64*k, 64*k, 64*k, 1*k), 4, 1 << 30, 0, 4, true},
		{"size bound", sized(2*k, 2*k, 2*k, 2*k), 4, 6 * k, 0, 0, false},
		{"size bound keeps the newest", sized(2*k, 2*k, 2*k, 2*k, 2*k), 4, 8 * k, 1, 5, true},
		{"fan-in below 2 disables", sized(1*k, 1*k), 1, 1 << 30, 0, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			first, end, ok := c.s.MergeRun(c.fanIn, c.maxBytes)
			if first != c.first || end != c.end || ok != c.ok {
				t.Fatalf("MergeRun = [%d, %d) %v, want [%d, %d) %v", first, end, ok, c.first, c.end, c.ok)
			}
		})
	}
}

// TestMergeRunSkipsUnmergeable: a batch with fields from newer code, or a
// part of an unknown format, is never rewritten, so it splits runs.
func TestMergeRunSkipsUnmergeable(t *testing.T) {
	const k = 1 << 10
	for name, spoil := range map[string]func(*Batch){
		"unknown fields": func(b *Batch) { b.unknown = newerFields("batch") },
		"unknown format": func(b *Batch) { b.Parts = []Part{{Key: "x", Format: 99, Bytes: k}} },
	} {
		t.Run(name, func(t *testing.T) {
			s := sized(k, k, k, k, k)
			spoil(&s.Batches[2])
			if first, end, ok := s.MergeRun(3, 1<<30); ok {
				t.Fatalf("merged [%d, %d) across an unmergeable batch", first, end)
			}
			if _, _, ok := s.MergeRun(2, 1<<30); !ok {
				t.Fatal("the runs beside the unmergeable batch were not merged")
			}
		})
	}
}

// TestMergingKeepsBatchesLogarithmic: appending single small batches and
// merging whenever MergeRun says so keeps fewer than fanIn batches per
// level.
func TestMergingKeepsBatchesLogarithmic(t *testing.T) {
	const fanIn = 4
	s := New("s")
	most := 0
	for i := range frontier.Time(5000) {
		s, _ = s.CompareAndAppend(Batch{
			Lower: at(i), Upper: at(i + 1),
			Parts: []Part{{Key: fmt.Sprintf("p%d", i), Format: FormatParquetV1, Bytes: 1 << 10, Rows: 1}},
		}, 1, 0)
		for {
			first, end, ok := s.MergeRun(fanIn, 1<<40)
			if !ok {
				break
			}
			run := s.Batches[first:end]
			var replaced []string
			var bytes int64
			for _, b := range run {
				for _, p := range b.Parts {
					replaced = append(replaced, p.Key)
				}
				bytes += b.Bytes()
			}
			merged := Batch{Lower: run[0].Lower, Upper: run[len(run)-1].Upper,
				Parts: []Part{{Key: fmt.Sprintf("m%d-%d", i, first), Format: FormatParquetV1, Bytes: bytes, Rows: 1}}}
			s, _, ok = s.ApplyCompaction(replaced, merged)
			if !ok {
				t.Fatal("compaction of the chosen run not applied")
			}
		}
		most = max(most, len(s.Batches))
	}
	// 5000 KiB is level 6 at most: fewer than fanIn batches on each of
	// levels 0..6.
	if limit := 7 * (fanIn - 1); most > limit {
		t.Fatalf("%d batches at most, want <= %d", most, limit)
	}
}
