package part_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/part"
)

func genUpdates(t *rapid.T, maxRows int) []part.Update {
	// Small alphabets make repeated keys and values likely, so dictionary
	// pages matter; times and diffs range over their whole type.
	key := rapid.OneOf(rapid.SliceOfN(rapid.ByteRange(0, 3), 0, 3), rapid.SliceOfN(rapid.Byte(), 0, 40))
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) part.Update {
		return part.Update{
			Key:  key.Draw(t, "key"),
			Val:  key.Draw(t, "val"),
			Time: frontier.Time(rapid.OneOf(rapid.Uint64Range(0, 3), rapid.Uint64()).Draw(t, "time")),
			Diff: rapid.OneOf(rapid.Int64Range(-2, 2), rapid.Int64()).Draw(t, "diff"),
		}
	}), 0, maxRows).Draw(t, "updates")
}

// wantStats recomputes Stats from scratch (untruncated bounds), the diffs
// summed exactly and the sum then held to the int64 range.
func wantStats(us []part.Update) part.Stats {
	var s part.Stats
	sum := new(big.Int)
	s.Rows = int64(len(us))
	for i, u := range us {
		if i == 0 || u.Time < s.MinTime {
			s.MinTime = u.Time
		}
		if i == 0 || u.Time > s.MaxTime {
			s.MaxTime = u.Time
		}
		if i == 0 || bytes.Compare(u.Key, s.KeyLower) < 0 {
			s.KeyLower = u.Key
		}
		if i == 0 || bytes.Compare(u.Key, s.KeyUpper) > 0 {
			s.KeyUpper = u.Key
		}
		sum.Add(sum, big.NewInt(u.Diff))
	}
	switch lo, hi := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64); {
	case sum.Cmp(lo) < 0:
		sum = lo
	case sum.Cmp(hi) > 0:
		sum = hi
	}
	s.DiffsSum = sum.Int64()
	return s
}

func sameStats(a, b part.Stats) bool {
	return a.Rows == b.Rows && a.MinTime == b.MinTime && a.MaxTime == b.MaxTime && a.DiffsSum == b.DiffsSum &&
		bytes.Equal(a.KeyLower, b.KeyLower) && bytes.Equal(a.KeyUpper, b.KeyUpper)
}

// fataler is what testing.T and rapid.T share.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func checkDecoded(t fataler, d *part.Decoded, us []part.Update) {
	t.Helper()
	if d.Len() != len(us) {
		t.Fatalf("Len = %d, want %d", d.Len(), len(us))
	}
	for i, u := range us {
		if !bytes.Equal(d.Key(i), u.Key) || !bytes.Equal(d.Val(i), u.Val) || d.Time(i) != u.Time || d.Diff(i) != u.Diff {
			t.Fatalf("row %d = (%x, %x, %d, %d), want (%x, %x, %d, %d)",
				i, d.Key(i), d.Val(i), d.Time(i), d.Diff(i), u.Key, u.Val, u.Time, u.Diff)
		}
	}
}

// TestRoundTrip checks Decode(Encode(us)) against us row by row, the stats
// against a recomputation, ReadStats against Encode's stats, and that
// encoding is deterministic.
func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		us := genUpdates(rt, 300)
		data, st, err := part.Encode(us)
		if err != nil {
			rt.Fatal(err)
		}
		if want := wantStats(us); !sameStats(st, want) || st.Bytes != int64(len(data)) {
			rt.Fatalf("stats %+v, want %+v with Bytes %d", st, want, len(data))
		}
		again, _, err := part.Encode(us)
		if err != nil || !bytes.Equal(again, data) {
			rt.Fatalf("second Encode differs (err %v)", err)
		}
		rs, err := part.ReadStats(data)
		if err != nil || !sameStats(rs, st) || rs.Bytes != st.Bytes {
			rt.Fatalf("ReadStats = %+v, %v; want %+v", rs, err, st)
		}
		d, err := part.Decode(data)
		if err != nil {
			rt.Fatal(err)
		}
		defer d.Release()
		checkDecoded(rt, d, us)
	})
}

// TestLargeParts covers dictionaries that overflow into plain pages, many
// data pages per column and long values.
func TestLargeParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name       string
		rows, size int
		distinct   int
	}{
		{"distinct", 60_000, 32, 0},
		{"repeated", 100_000, 16, 10},
		{"long values", 100, 4000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			us := make([]part.Update, tc.rows)
			for i := range us {
				k := make([]byte, tc.size)
				if tc.distinct > 0 {
					k[0] = byte(i % tc.distinct)
				} else {
					for j := range k {
						k[j] = byte(rng.Uint32())
					}
				}
				us[i] = part.Update{Key: k, Val: k[:len(k)/2], Time: frontier.Time(i / 7), Diff: int64(i%3 - 1)}
			}
			data, st, err := part.Encode(us)
			if err != nil {
				t.Fatal(err)
			}
			want := wantStats(us)
			if tc.size > part.MaxKeyBoundLen { // bounds are truncated; check they still bound
				if bytes.Compare(st.KeyLower, want.KeyLower) > 0 || bytes.Compare(st.KeyUpper, want.KeyUpper) < 0 {
					t.Fatalf("truncated bounds do not bound the keys")
				}
				st.KeyLower, st.KeyUpper = want.KeyLower, want.KeyUpper
			}
			if !sameStats(st, want) {
				t.Fatalf("stats %+v, want %+v", st, want)
			}
			d, err := part.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			checkDecoded(t, d, us)
			d.Release()
		})
	}
}

func TestEmptyPart(t *testing.T) {
	data, st, err := part.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 0 || st.KeyLower != nil || st.KeyUpper != nil || st.MinTime != 0 {
		t.Fatalf("stats of an empty part: %+v", st)
	}
	d, err := part.Decode(data)
	if err != nil || d.Len() != 0 {
		t.Fatalf("Decode of an empty part: %v, %v", d, err)
	}
	d.Release()
}

// TestKeyBounds checks the truncation of long key bounds: still bounds,
// never longer than MaxKeyBoundLen unless the upper bound cannot be
// shortened.
func TestKeyBounds(t *testing.T) {
	long := func(fill byte, last ...byte) []byte {
		return append(bytes.Repeat([]byte{fill}, part.MaxKeyBoundLen+10), last...)
	}
	allFF := long(0xff)
	tailFF := append(bytes.Repeat([]byte{'a'}, part.MaxKeyBoundLen-2), 0x10, 0xff, 0xff, 0xff)
	for _, tc := range []struct {
		name       string
		keys       [][]byte
		lower, upp []byte
	}{
		{"short", [][]byte{[]byte("b"), []byte("a"), []byte("c")}, []byte("a"), []byte("c")},
		{"long", [][]byte{long('m'), long('k')}, long('k')[:part.MaxKeyBoundLen],
			append(bytes.Repeat([]byte{'m'}, part.MaxKeyBoundLen-1), 'n')},
		{"trailing ff", [][]byte{tailFF}, tailFF[:part.MaxKeyBoundLen],
			append(bytes.Repeat([]byte{'a'}, part.MaxKeyBoundLen-2), 0x11)},
		{"all ff", [][]byte{allFF}, allFF[:part.MaxKeyBoundLen], allFF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var us []part.Update
			for _, k := range tc.keys {
				us = append(us, part.Update{Key: k})
			}
			data, st, err := part.Encode(us)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(st.KeyLower, tc.lower) || !bytes.Equal(st.KeyUpper, tc.upp) {
				t.Fatalf("bounds [%q, %q], want [%q, %q]", st.KeyLower, st.KeyUpper, tc.lower, tc.upp)
			}
			for _, k := range tc.keys {
				if bytes.Compare(st.KeyLower, k) > 0 || bytes.Compare(k, st.KeyUpper) > 0 {
					t.Fatalf("key %q outside [%q, %q]", k, st.KeyLower, st.KeyUpper)
				}
			}
			if rs, err := part.ReadStats(data); err != nil || !sameStats(rs, st) {
				t.Fatalf("ReadStats = %+v, %v", rs, err)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		us := genUpdates(rt, 200)
		target := rapid.Int64Range(-1, 2000).Draw(rt, "target")
		runs := part.Split(us, target)
		var joined []part.Update
		for i, run := range runs {
			if len(run) == 0 {
				rt.Fatalf("run %d is empty", i)
			}
			var size int64
			for j, u := range run {
				if j == len(run)-1 && size >= target && target > 0 {
					rt.Fatalf("run %d reached %d >= %d before its last update", i, size, target)
				}
				size += part.EstimatedSize(u)
			}
			if i < len(runs)-1 && size < target {
				rt.Fatalf("run %d (not last) estimated %d < target %d", i, size, target)
			}
			joined = append(joined, run...)
		}
		if len(joined) != len(us) {
			rt.Fatalf("runs hold %d updates, want %d", len(joined), len(us))
		}
		for i := range us {
			if !bytes.Equal(joined[i].Key, us[i].Key) || joined[i].Time != us[i].Time {
				rt.Fatalf("update %d changed or moved", i)
			}
		}
		if len(us) == 0 && runs != nil {
			rt.Fatalf("Split(nil) = %v", runs)
		}
	})
}

// TestReleaseReuse checks that buffers recycled by Release do not leak rows
// of one part into the next, and that a released Decoded is empty.
func TestReleaseReuse(t *testing.T) {
	a := []part.Update{{Key: []byte("long key number one"), Val: []byte("v1"), Time: 1, Diff: 1}}
	b := []part.Update{{Key: []byte("k"), Time: 2, Diff: 2}, {Key: []byte("kk"), Val: []byte("w"), Time: 3, Diff: 3}}
	da, _, _ := part.Encode(a)
	db, _, _ := part.Encode(b)
	for range 3 {
		d, err := part.Decode(da)
		if err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, d, a)
		d.Release()
		d.Release()
		if d.Len() != 0 {
			t.Fatalf("Len after Release = %d", d.Len())
		}
		d, err = part.Decode(db)
		if err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, d, b)
		d.Release()
	}
}

func TestAccessorsDoNotAllocate(t *testing.T) {
	us := make([]part.Update, 1000)
	for i := range us {
		us[i] = part.Update{Key: fmt.Appendf(nil, "key%d", i), Val: []byte("v"), Time: frontier.Time(i), Diff: 1}
	}
	data, _, _ := part.Encode(us)
	d, err := part.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	var sink int
	allocs := testing.AllocsPerRun(10, func() {
		for i := range d.Len() {
			sink += len(d.Key(i)) + len(d.Val(i)) + int(d.Time(i)) + int(d.Diff(i))
		}
	})
	if allocs != 0 {
		t.Fatalf("reading %d rows allocated %v times", d.Len(), allocs)
	}
	_ = sink
}

// TestCorruption damages a valid part in every way cheap to enumerate:
// every truncation, one single-bit flip per byte (cycling the bit), garbage.
// Decode must return ErrCorrupt or rows (Parquet has no page checksums, so a
// flip inside a value can decode), never panic; Verify must catch every case.
func TestCorruption(t *testing.T) {
	us := []part.Update{
		{Key: []byte("alpha"), Val: []byte("one"), Time: 1, Diff: 1},
		{Key: []byte("beta"), Val: []byte("two"), Time: math.MaxUint64, Diff: -1},
		{Key: []byte("alpha"), Val: []byte("one"), Time: 3, Diff: math.MinInt64},
	}
	data, _, err := part.Encode(us)
	if err != nil {
		t.Fatal(err)
	}
	sum := part.Checksum(data)
	check := func(what string, b []byte, mustFail bool) {
		t.Helper()
		d, err := part.Decode(b)
		if err != nil {
			if !errors.Is(err, part.ErrCorrupt) {
				t.Fatalf("%s: error %v does not wrap ErrCorrupt", what, err)
			}
		} else {
			if mustFail {
				t.Fatalf("%s: decoded %d rows", what, d.Len())
			}
			d.Release()
		}
		if _, err := part.ReadStats(b); err != nil && !errors.Is(err, part.ErrCorrupt) {
			t.Fatalf("%s: ReadStats error %v does not wrap ErrCorrupt", what, err)
		}
		if err := part.Verify(b, sum); !errors.Is(err, part.ErrCorrupt) {
			t.Fatalf("%s: Verify = %v", what, err)
		}
	}
	for n := range len(data) {
		check(fmt.Sprintf("truncated to %d", n), data[:n], true)
	}
	for i := 0; i < len(data)*8; i += 7 { // every byte, each bit position in turn
		b := bytes.Clone(data)
		b[i/8] ^= 1 << (i % 8)
		check(fmt.Sprintf("bit %d flipped", i), b, false)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		b := make([]byte, rng.IntN(2*len(data)))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if len(b) >= 4 && i%2 == 0 {
			copy(b, "PAR1")
			copy(b[len(b)-4:], "PAR1")
		}
		check(fmt.Sprintf("garbage %d", i), b, false)
	}
	if err := part.Verify(data, sum); err != nil {
		t.Fatalf("Verify of the intact part: %v", err)
	}
	var ce *part.ChecksumError
	if err := part.Verify(data[1:], sum); !errors.As(err, &ce) || ce.Want != sum {
		t.Fatalf("Verify error %v is not a *ChecksumError for %08x", err, sum)
	}
}

// TestGoldenBytes pins the encoding of a fixed part. Equal updates must give
// equal bytes in every process (a part's checksum is recorded in state and
// its bytes may be compared across writers); a change here means a library
// upgrade or a writer setting changed the format, which must be deliberate.
func TestGoldenBytes(t *testing.T) {
	data, _, err := part.Encode(repeatedUpdates(50))
	if err != nil {
		t.Fatal(err)
	}
	// 781 bytes, 35bef1a7, until the footer gained the widths entry.
	const wantSum, wantLen = 0x12b38beb, 813
	if got := part.Checksum(data); got != wantSum || len(data) != wantLen {
		t.Fatalf("golden part: crc32c %08x, %d bytes; want %08x, %d bytes", got, len(data), uint32(wantSum), wantLen)
	}
}
