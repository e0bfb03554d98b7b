package persist

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
	"github.com/shardflow/shardflow/persist/internal/part"
	"github.com/shardflow/shardflow/persist/location/file"
)

func decodedOf(t testing.TB, us []Update) (*part.Decoded, PartDesc) {
	t.Helper()
	data, st, err := part.Encode(mustConsolidate(t, us))
	if err != nil {
		t.Fatal(err)
	}
	d, err := part.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return d, PartDesc{Rows: st.Rows, MinTime: st.MinTime, MaxTime: st.MaxTime}
}

func rowsOf(f *FetchedPart) contents {
	out := contents{}
	for i := range f.Len() {
		out.add(string(f.Key(i)), string(f.Val(i)), f.Time(i), f.Diff(i))
	}
	return out
}

func TestFilterDecoded(t *testing.T) {
	us := []Update{
		up("a", "", 1, 1), up("a", "", 2, 1), up("a", "", 4, -2), up("a", "", 5, 1),
		up("b", "", 2, 1), up("b", "", 3, -1), up("c", "x", 3, 7),
	}
	for _, tc := range []struct {
		name string
		f    FetchFilter
		want contents
	}{
		{"snapshot merges and drops zeros", FetchFilter{Mode: SnapshotRead, AsOf: 3},
			contents{{"a", "", 3}: 2, {"c", "x", 3}: 7}},
		{"snapshot at the end", FetchFilter{Mode: SnapshotRead, AsOf: 9},
			contents{{"a", "", 9}: 1, {"c", "x", 9}: 7}},
		{"listen beyond as-of", FetchFilter{Mode: ListenRead, AsOf: 2, Lower: frontier.From[frontier.Time](0)},
			contents{{"a", "", 4}: -2, {"a", "", 5}: 1, {"b", "", 3}: -1, {"c", "x", 3}: 7}},
		{"listen from a later lower", FetchFilter{Mode: ListenRead, AsOf: 1, Lower: frontier.From[frontier.Time](4)},
			contents{{"a", "", 4}: -2, {"a", "", 5}: 1}},
		{"listen all", FetchFilter{Mode: ListenRead, AsOf: 0, Lower: frontier.From[frontier.Time](0)},
			contents{{"a", "", 1}: 1, {"a", "", 2}: 1, {"a", "", 4}: -2, {"a", "", 5}: 1, {"b", "", 2}: 1, {"b", "", 3}: -1, {"c", "x", 3}: 7}},
	} {
		d, desc := decodedOf(t, us)
		f := filterDecoded(d, desc, tc.f)
		if got := rowsOf(f); !equalContents(got, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
		for i := range f.Len() {
			if f.Time(i) > f.MaxTime() {
				t.Errorf("%s: row %d at %d, beyond MaxTime %d", tc.name, i, f.Time(i), f.MaxTime())
			}
		}
		for i := 1; i < f.Len(); i++ {
			if compareUpdates(Update{Key: f.Key(i - 1), Val: f.Val(i - 1), Time: f.Time(i - 1)}, Update{Key: f.Key(i), Val: f.Val(i), Time: f.Time(i)}) >= 0 {
				t.Errorf("%s: rows %d and %d out of order or not consolidated", tc.name, i-1, i)
			}
		}
		f.Release()
		f.Release()
	}
}

// A snapshot read consolidates each (key, val) exactly: into one row when
// the diffs' total fits an int64, whatever their partial sums did on the
// way, into none when it is zero, and into rows that each fit otherwise.
// Diffs are drawn near the int64 limits; the seed is printed.
func TestFilterDecodedSnapshotNearOverflow(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(seed, 7))
	near := []int64{math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1, -math.MaxInt64, 1, -1, 2, -2}
	for round := range 2000 {
		var us []Update
		for k := range 1 + rng.IntN(3) {
			for tm := range 1 + rng.IntN(6) { // one row per (key, time): nothing to consolidate on write
				us = append(us, up(fmt.Sprint("k", k), "", frontier.Time(tm), near[rng.IntN(len(near))]))
			}
		}
		asOf := frontier.Time(rng.IntN(7))
		d, desc := decodedOf(t, us)
		f := filterDecoded(d, desc, FetchFilter{Mode: SnapshotRead, AsOf: asOf})
		want := map[string]*big.Int{}
		for _, u := range us {
			if u.Time <= asOf {
				if want[string(u.Key)] == nil {
					want[string(u.Key)] = new(big.Int)
				}
				want[string(u.Key)].Add(want[string(u.Key)], big.NewInt(u.Diff))
			}
		}
		got, rows := map[string]*big.Int{}, map[string]int{}
		for i := range f.Len() {
			k := string(f.Key(i))
			if f.Diff(i) == 0 || f.Time(i) != asOf {
				t.Fatalf("round %d: row %d of %s: diff %d at %d (as of %d)", round, i, k, f.Diff(i), f.Time(i), asOf)
			}
			if got[k] == nil {
				got[k] = new(big.Int)
			}
			got[k].Add(got[k], big.NewInt(f.Diff(i)))
			rows[k]++
		}
		for k, w := range want {
			g := got[k]
			if g == nil {
				g = new(big.Int)
			}
			if g.Cmp(w) != 0 {
				t.Fatalf("round %d: %s sums to %v, want %v (input %v)", round, k, g, w, us)
			}
			switch {
			case w.Sign() == 0 && rows[k] != 0, w.IsInt64() && w.Sign() != 0 && rows[k] != 1:
				t.Fatalf("round %d: %s: %d rows for a total of %v (input %v)", round, k, rows[k], w, us)
			}
		}
		f.Release()
	}
}

// FuzzFetch stores arbitrary bytes as a part (with a matching checksum, as
// if state were honest about garbage) and fetches it: an error or rows,
// never a panic. Each exec decodes Parquet under coverage instrumentation,
// and the fuzzer spends up to a minute minimizing each new input (pass
// -fuzzminimizetime=1s); FuzzFetchModel checks the rows themselves.
func FuzzFetch(f *testing.F) {
	good, _, _ := part.Encode([]Update{up("a", "b", 1, 1), up("c", "", 2, -1)})
	f.Add(good, uint64(2), true)
	f.Add([]byte("PAR1\x00\x00PAR1"), uint64(0), false)
	f.Fuzz(func(t *testing.T, data []byte, asOf uint64, snapshot bool) {
		ctx := context.Background()
		e := newEnv()
		c := e.client(ClientOptions{})
		e.blob.Set(ctx, "s/p/x", data)
		d := PartDesc{Key: "s/p/x", Format: 1, Bytes: int64(len(data)), Checksum: part.Checksum(data), Rows: -1, MaxTime: frontier.Time(asOf)}
		if st, err := part.ReadStats(data); err == nil {
			d.Rows, d.MinTime, d.MaxTime = st.Rows, st.MinTime, st.MaxTime
		}
		filter := FetchFilter{Mode: ListenRead, AsOf: frontier.Time(asOf), Lower: frontier.From[frontier.Time](0)}
		if snapshot {
			filter = FetchFilter{Mode: SnapshotRead, AsOf: frontier.Time(asOf)}
		}
		fp, err := c.Fetch(ctx, "s", d, filter)
		if err != nil {
			// The decoder turns a panic into corruption: a bug all the same.
			if !errors.Is(err, ErrBlobCorrupt) || strings.Contains(err.Error(), "panicked") {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		for i := range fp.Len() {
			_, _, _, _ = fp.Key(i), fp.Val(i), fp.Time(i), fp.Diff(i)
		}
		fp.Release()
	})
}

// TestFetchHoldsBlob fetches parts from a blob store that reads into pooled
// buffers, keeping some FetchedParts while others are released and their
// buffers reused by later fetches. A FetchedPart references its blob's
// bytes, so it must hold the buffer until its Release: every row of every
// part kept must read back intact (under the invariants tag a buffer given
// back too early is poisoned, so this cannot pass by luck).
func TestFetchHoldsBlob(t *testing.T) {
	ctx := context.Background()
	b, err := file.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e := newEnv()
	c := NewClient(Location{Blob: b, Consensus: e.cons}, ClientOptions{Clock: e.clock, BlobClock: e.clock})
	var descs []PartDesc
	var wants []contents
	for i := range 6 {
		var us []Update
		for j := range 200 * (i + 1) {
			us = append(us, up(fmt.Sprintf("key-%d-%06d", i, j), strings.Repeat("v", i*3), frontier.Time(1+j%7), 1))
		}
		us = mustConsolidate(t, us)
		data, st, err := part.Encode(us)
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("s/p/%d", i)
		if err := b.Set(ctx, key, data); err != nil {
			t.Fatal(err)
		}
		descs = append(descs, PartDesc{Key: key, Format: 1, Bytes: st.Bytes, Checksum: part.Checksum(data),
			Rows: st.Rows, MinTime: st.MinTime, MaxTime: st.MaxTime})
		want := contents{}
		for _, u := range us {
			want.add(string(u.Key), string(u.Val), u.Time, u.Diff)
		}
		wants = append(wants, want)
	}
	filter := FetchFilter{Mode: ListenRead, AsOf: 0, Lower: frontier.From[frontier.Time](0)}
	held := map[int]*FetchedPart{}
	for round := range 4 {
		for i, d := range descs {
			if fp := held[i]; fp != nil && (i+round)%2 == 0 {
				if got := rowsOf(fp); !equalContents(got, wants[i]) {
					t.Fatalf("round %d part %d: rows changed while held", round, i)
				}
				fp.Release()
				delete(held, i)
			}
			if held[i] == nil {
				fp, err := c.Fetch(ctx, "s", d, filter)
				if err != nil {
					t.Fatal(err)
				}
				held[i] = fp
			}
		}
	}
	for i, fp := range held {
		if got := rowsOf(fp); !equalContents(got, wants[i]) {
			t.Fatalf("part %d: rows changed while held", i)
		}
		fp.Release()
	}
}
