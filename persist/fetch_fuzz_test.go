package persist

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/part"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// FuzzFetchModel writes a small part of fuzzed rows (as CompareAndAppend
// would: consolidated, with stats from the encoder) to an in-memory blob and
// fetches it with a fuzzed filter. The rows must equal a naive model of the
// read: snapshot keeps t <= asOf advanced to asOf, listen keeps asOf < t and
// lower <= t; equal (key, val, time) sum; zero diffs go. With flip > 0 one
// stored byte is damaged first: the fetch must then fail with
// ErrBlobCorrupt, never return rows. Inputs are tiny, so each exec is cheap
// (run it with -fuzzminimizetime=1s: minimizing is most of the default cost).
func FuzzFetchModel(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 0, 2, 1, 0, 0, 4, 0xfe, 1, 1, 3, 7}, uint8(3), uint8(0), true, uint16(0))
	f.Add([]byte{0, 0, 1, 1, 0, 0, 2, 1, 0, 0, 4, 0xfe, 1, 1, 3, 7}, uint8(2), uint8(4), false, uint16(0))
	f.Add([]byte{2, 1, 5, 1, 2, 1, 6, 0xff}, uint8(7), uint8(0), true, uint16(0x1234))
	f.Fuzz(func(t *testing.T, raw []byte, asOf, lower uint8, snapshot bool, flip uint16) {
		// Four bytes a row: key, val, time and diff from small domains so
		// rows collide and consolidate.
		var us []Update
		for i := 0; i+4 <= len(raw) && len(us) < 64; i += 4 {
			us = append(us, Update{
				Key:  []byte{'a' + raw[i]%4},
				Val:  bytes.Repeat([]byte{'v'}, int(raw[i+1]%3)),
				Time: frontier.Time(raw[i+2] % 8),
				Diff: int64(int8(raw[i+3])),
			})
		}
		filter := FetchFilter{Mode: ListenRead, AsOf: frontier.Time(asOf % 8), Lower: frontier.From(frontier.Time(lower % 8))}
		if snapshot {
			filter = FetchFilter{Mode: SnapshotRead, AsOf: frontier.Time(asOf % 8)}
		}
		want := contents{}
		for _, u := range us {
			switch tm := u.Time; {
			case snapshot && tm <= filter.AsOf:
				want.add(string(u.Key), string(u.Val), filter.AsOf, u.Diff)
			case !snapshot && filter.AsOf < tm && filter.Lower.LessEqual(tm):
				want.add(string(u.Key), string(u.Val), tm, u.Diff)
			}
		}

		written := mustConsolidate(t, append([]Update(nil), us...))
		data, st, err := part.Encode(written)
		if err != nil {
			t.Fatal(err)
		}
		d := PartDesc{
			Key: "s/p/x", Format: 1, Bytes: int64(len(data)), Rows: st.Rows,
			MinTime: st.MinTime, MaxTime: st.MaxTime, Checksum: part.Checksum(data),
			DistinctKeyVals: distinctKeyVals(written),
		}
		if flip > 0 {
			data = bytes.Clone(data)
			data[int(flip)%len(data)] ^= byte(flip>>8) | 1
		}
		ctx := context.Background()
		b := mem.NewBlob()
		if err := b.Set(ctx, d.Key, data); err != nil {
			t.Fatal(err)
		}
		c := NewClient(Location{Blob: b, Consensus: mem.NewConsensus()}, ClientOptions{})
		fp, err := c.Fetch(ctx, "s", d, filter)
		// The same read in two halves, as a source does it.
		var halves *FetchedPart
		enc, herr := c.FetchEncoded(ctx, "s", d, filter)
		if herr == nil {
			halves, herr = enc.Decode()
		}
		if herr == nil {
			defer halves.Release()
			if fp != nil && !equalContents(rowsOf(halves), rowsOf(fp)) {
				t.Fatalf("FetchEncoded+Decode %v, Fetch %v", rowsOf(halves), rowsOf(fp))
			}
		}
		if flip > 0 {
			if !errors.Is(err, ErrBlobCorrupt) {
				t.Fatalf("damaged byte %d: got %v, want ErrBlobCorrupt", int(flip)%len(data), err)
			}
			if !errors.Is(herr, ErrBlobCorrupt) {
				t.Fatalf("damaged byte %d: FetchEncoded+Decode got %v, want ErrBlobCorrupt", int(flip)%len(data), herr)
			}
			return
		}
		if err != nil || herr != nil {
			t.Fatal(err, herr)
		}
		defer fp.Release()
		got := contents{}
		for i := range fp.Len() {
			if fp.Diff(i) == 0 {
				t.Fatalf("row %d has a zero diff", i)
			}
			if i > 0 && compareUpdates(Update{Key: fp.Key(i - 1), Val: fp.Val(i - 1), Time: fp.Time(i - 1)},
				Update{Key: fp.Key(i), Val: fp.Val(i), Time: fp.Time(i)}) >= 0 {
				t.Fatalf("rows %d and %d out of order or not consolidated", i-1, i)
			}
			got.add(string(fp.Key(i)), string(fp.Val(i)), fp.Time(i), fp.Diff(i))
		}
		if !equalContents(got, want) {
			t.Fatalf("filter %+v of %v: got %v want %v", filter, us, got, want)
		}
	})
}
