package persist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
	"github.com/shardflow/shardflow/persist/internal/part"
	"github.com/shardflow/shardflow/persist/internal/state"
	"github.com/shardflow/shardflow/persist/location"
)

// TestSmallAppendIsInline: a small append keeps its part in state and
// writes no blob; it reads back, verifies, and GC and the janitor leave it
// alone. A large append still writes a blob.
func TestSmallAppendIsInline(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{MergeFanIn: -1})
	w, _ := c.OpenWriter(ctx, "s")
	if err := w.CompareAndAppend(ctx, []Update{up("a", "1", 0, 1), up("b", "2", 0, 3)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	big := []Update{up(string(bytes.Repeat([]byte("k"), 8<<10)), "", 1, 1)}
	if err := w.CompareAndAppend(ctx, big, ts(1), ts(2)); err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	small, large := st.Batches[0].Parts[0], st.Batches[1].Parts[0]
	if small.Format != int32(state.FormatParquetV1Inline) || large.Format != int32(state.FormatParquetV1) {
		t.Fatalf("formats %d and %d, want inline then blob", small.Format, large.Format)
	}
	if n := blobCount(t, e.blob, "s/"); n != 1 {
		t.Fatalf("%d blobs, want only the large part's", n)
	}
	r, _ := c.OpenReader(ctx, "s", "")
	got := snapshotContents(t, c, r, 1)
	want := contents{}
	want.add("a", "1", 1, 1)
	want.add("b", "2", 1, 3)
	want.add(string(big[0].Key), "", 1, 1)
	if !equalContents(got, want) {
		t.Fatalf("snapshot %v, want %v", got, want)
	}
	if v, err := c.Verify(ctx, "s"); err != nil || !v.OK() || v.Parts != 2 {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	if _, err := c.GC(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.Janitor(ctx, "s", 0); err != nil || rep.OrphansReaped != 0 {
		t.Fatalf("janitor: %+v, %v", rep, err)
	}
}

// TestInlineKeysAreCopies: the rows of a fetched inline part are decoded
// from a copy of the state's bytes, so a caller writing into a key it was
// handed changes neither the state nor a later fetch of the same part.
func TestInlineKeysAreCopies(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(ClientOptions{MergeFanIn: -1})
	w, _ := c.OpenWriter(ctx, "s")
	if err := w.CompareAndAppend(ctx, []Update{up("key", "val", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	r, _ := c.OpenReader(ctx, "s", "")
	parts, err := r.Snapshot(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || parts[0].Desc.Format != int32(state.FormatParquetV1Inline) {
		t.Fatalf("parts %+v, want one inline part", parts)
	}
	first, err := c.FetchLeased(ctx, parts[0])
	if err != nil {
		t.Fatal(err)
	}
	copy(first.Key(0), "KEY")
	copy(first.Val(0), "VAL")
	again, err := c.FetchLeased(ctx, parts[0])
	if err != nil {
		t.Fatalf("fetch after writing into the first fetch's key: %v", err)
	}
	if k, v := string(again.Key(0)), string(again.Val(0)); k != "key" || v != "val" {
		t.Fatalf("second fetch reads %q=%q, want key=val", k, v)
	}
	first.Release()
	again.Release()
	parts[0].Lease.Release()
	if got := snapshotContents(t, c, r, 0); !equalContents(got, contents{{"key", "val", 0}: 1}) {
		t.Fatalf("snapshot after the writes: %v", got)
	}
}

// TestInlineBytesBounded: once the state holds InlineTotalMaxBytes of
// inline parts, appends write blobs.
func TestInlineBytesBounded(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	const total = 4 << 10
	c := e.client(ClientOptions{MergeFanIn: -1, InlineTotalMaxBytes: total})
	w, _ := c.OpenWriter(ctx, "s")
	for i := range frontier.Time(30) {
		if err := w.CompareAndAppend(ctx, []Update{up(fmt.Sprint(i), "v", i, 1)}, ts(i), ts(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	inline, largest := inlineParts(st)
	if inline > total || inline < total-largest {
		t.Fatalf("%d inline bytes, want the %d allowed, less at most one part (%d)", inline, total, largest)
	}
	if blobCount(t, e.blob, "s/") == 0 {
		t.Fatal("no append wrote a blob past the inline bound")
	}
}

// fillInlineRoom sets up two clients of e with room in state for one
// inline part of one row, not two: the first appends one, at [0, 1), and
// is returned; the second, on blob, opened its writer before that append,
// so its cache shows the room empty.
func fillInlineRoom(t *testing.T, e *env, blob location.Blob) (first *Client, second *WriteHandle, opts ClientOptions) {
	t.Helper()
	ctx := context.Background()
	one := []Update{up("a", "1", 0, 1)}
	data, _, err := part.Encode(mustConsolidate(t, one))
	if err != nil {
		t.Fatal(err)
	}
	opts = ClientOptions{MergeFanIn: -1, InlineTotalMaxBytes: int64(len(data)) * 3 / 2}
	first = e.client(opts)
	w, err := first.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if second, err = e.clientOn(blob, opts).OpenWriter(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, one, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	return first, second, opts
}

// TestInlineCapHoldsAcrossClients: a writer whose client cached the state
// before another client's append filled the inline room finds so at its
// compare-and-set, writes its part to blob and appends it there; the
// state never holds more inline bytes than the cap.
func TestInlineCapHoldsAcrossClients(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	ca, wb, opts := fillInlineRoom(t, e, e.blob)
	if err := wb.CompareAndAppend(ctx, []Update{up("b", "2", 1, 1)}, ts(1), ts(2)); err != nil {
		t.Fatal(err)
	}
	st, err := ca.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := inlineParts(st); n > opts.InlineTotalMaxBytes {
		t.Fatalf("state holds %d inline bytes, cap %d", n, opts.InlineTotalMaxBytes)
	}
	if f := st.Batches[1].Parts[0].Format; f != int32(state.FormatParquetV1) {
		t.Fatalf("second append's part has format %d, want a blob part", f)
	}
	if n := blobCount(t, e.blob, "s/"); n != 1 {
		t.Fatalf("%d blobs, want the second append's part", n)
	}
	r, _ := ca.OpenReader(ctx, "s", "")
	want := contents{}
	want.add("a", "1", 1, 1)
	want.add("b", "2", 1, 1)
	if got := snapshotContents(t, ca, r, 1); !equalContents(got, want) {
		t.Fatalf("snapshot %v, want %v", got, want)
	}
	if v, err := ca.Verify(ctx, "s"); err != nil || !v.OK() {
		t.Fatalf("verify: %+v, %v", v, err)
	}
}

// TestInlineCapBlobWriteFails: when the part that no longer fits inline
// cannot be written to blob, the append fails determinately, commits
// nothing and leaves no blob, even one the failed write stored. (The part
// was made a blob part only once its write succeeded, so the delete after
// a failure skipped it as inline.)
func TestInlineCapBlobWriteFails(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	ca, wb, _ := fillInlineRoom(t, e, storesThenFails{e.blob})
	err := wb.CompareAndAppend(ctx, []Update{up("b", "2", 1, 1)}, ts(1), ts(2))
	if !errors.Is(err, errResponseLost) || locationIsIndeterminate(err) {
		t.Fatalf("append: %v, want the blob's error, determinate", err)
	}
	st, err := ca.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Upper.Equal(ts(1)) || len(st.Batches) != 1 {
		t.Fatalf("upper %v, %d batches: the failed append committed", st.Upper, len(st.Batches))
	}
	if n := blobCount(t, e.blob, "s/"); n != 0 {
		t.Fatalf("%d blobs left by the failed append", n)
	}
}

var errResponseLost = errors.New("injected: the response to a Set that stored its value was lost")

// storesThenFails is a Blob whose Set stores the value and then fails as
// if its response had been lost.
type storesThenFails struct{ location.Blob }

func (b storesThenFails) Set(ctx context.Context, key string, value []byte) error {
	if err := b.Blob.Set(ctx, key, value); err != nil {
		return err
	}
	return location.Indeterminate("blob set", errResponseLost)
}

// inlineParts sums the bytes of st's inline parts and finds the largest.
func inlineParts(st ShardState) (total, largest int64) {
	for _, b := range st.Batches {
		for _, p := range b.Parts {
			if p.Format == int32(state.FormatParquetV1Inline) {
				total += p.Bytes
				largest = max(largest, p.Bytes)
			}
		}
	}
	return total, largest
}

// TestMergesKeepStateSmall: many single-row appends, merged as they go,
// leave a state of logarithmically many batches with no inline parts piling
// up, while a listener that started before them sees every update exactly
// once and snapshots at every time read back what was written.
func TestMergesKeepStateSmall(t *testing.T) {
	ctx := context.Background()
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	e := newEnv()
	const fanIn, appends = 4, 400
	c := e.client(ClientOptions{MergeFanIn: fanIn})
	w, _ := c.OpenWriter(ctx, "s")
	if err := w.CompareAndAppend(ctx, nil, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	r, _ := c.OpenReader(ctx, "s", "listener")
	l, err := r.Listen(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The listener reads as it goes, so merges happen both behind it and
	// across its frontier.
	written := []contents{{}}
	heard := contents{}
	listened := frontier.Time(1)
	most := 0
	// hear takes the listener's next event: progress, or parts to fetch.
	hear := func() {
		ev, err := l.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == ListenProgress {
			listened, _ = ev.Upper.Single()
			return
		}
		got, err := fetchAll(ctx, c, ev.Parts)
		if err != nil {
			t.Fatal(err)
		}
		for row, d := range got {
			heard.add(row.Key, row.Val, row.Time, d)
		}
	}
	for i := range frontier.Time(appends) {
		var us []Update
		for range rng.IntN(3) {
			k := fmt.Sprint(rng.IntN(20))
			d := int64(rng.IntN(3) - 1)
			if d == 0 {
				d = 2
			}
			us = append(us, up(k, "v", i+1, d))
		}
		if err := w.CompareAndAppend(ctx, us, ts(i+1), ts(i+2)); err != nil {
			t.Fatal(err)
		}
		if err := w.MergeErr(); err != nil {
			t.Fatalf("merge after append %d: %v", i, err)
		}
		next := contents{}
		for row, d := range written[len(written)-1] {
			next.add(row.Key, row.Val, row.Time, d)
		}
		for _, u := range us {
			next.add(string(u.Key), string(u.Val), u.Time, u.Diff)
		}
		written = append(written, next)
		for rng.IntN(3) == 0 && listened < i+2 {
			hear()
		}
		st, err := c.State(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, len(st.Batches))
	}
	for listened < appends+1 {
		hear()
	}
	if want := written[appends]; !equalContents(heard, want) {
		t.Fatalf("seed %d: the listener heard %v, want %v", seed, heard, want)
	}
	t.Logf("%d batches at most", most)
	// Appends of a few hundred bytes stay within a few levels.
	if most > 5*(fanIn-1)+1 {
		t.Fatalf("seed %d: %d batches at most, want logarithmically few", seed, most)
	}
	for _, asOf := range []frontier.Time{1, 7, appends / 2, appends} {
		got := snapshotContents(t, c, r, asOf)
		want := contents{}
		for row, d := range written[asOf] {
			want.add(row.Key, row.Val, asOf, d)
		}
		if !equalContents(got, want) {
			t.Fatalf("seed %d: snapshot at %d: %v, want %v", seed, asOf, got, want)
		}
	}
}
