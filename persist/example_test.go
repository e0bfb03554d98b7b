package persist_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
)

func Example() {
	ctx := context.Background()
	loc, err := persist.OpenLocation(ctx, "mem://", "mem://")
	if err != nil {
		panic(err)
	}
	defer loc.Close()
	c := persist.NewClient(loc, persist.ClientOptions{})

	w, _ := c.OpenWriter(ctx, "orders")
	err = w.CompareAndAppend(ctx, []persist.Update{
		{Key: []byte("apple"), Val: []byte("3"), Time: 0, Diff: 1},
		{Key: []byte("pear"), Val: []byte("1"), Time: 1, Diff: 1},
		{Key: []byte("apple"), Val: []byte("3"), Time: 1, Diff: -1},
	}, frontier.From[frontier.Time](0), frontier.From[frontier.Time](2))
	if err != nil {
		panic(err)
	}

	r, _ := c.OpenReader(ctx, "orders", "example")
	parts, _ := r.Snapshot(ctx, 1)
	for _, p := range parts {
		f, err := c.FetchLeased(ctx, p)
		if err != nil {
			panic(err)
		}
		for i := range f.Len() {
			fmt.Printf("%s=%s @%d %+d\n", f.Key(i), f.Val(i), f.Time(i), f.Diff(i))
		}
		f.Release()
		p.Lease.Release() // every fetch of the part is done
	}
	// Output:
	// pear=1 @1 +1
}

func ExampleWriteHandle_CompareAndAppend_upperMismatch() {
	ctx := context.Background()
	loc, _ := persist.OpenLocation(ctx, "mem://", "mem://")
	defer loc.Close()
	c := persist.NewClient(loc, persist.ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	from := frontier.From[frontier.Time]
	_ = w.CompareAndAppend(ctx, nil, from(0), from(5))

	err := w.CompareAndAppend(ctx, nil, from(0), from(7))
	var um *persist.UpperMismatchError
	if errors.As(err, &um) {
		fmt.Println("current upper:", um.Current)
	}
	fmt.Println(err)
	// Output:
	// current upper: [5]
	// persist: upper mismatch: expected [0] got [5]
}

func ExampleBatchBuilder() {
	ctx := context.Background()
	loc, _ := persist.OpenLocation(ctx, "mem://", "mem://")
	defer loc.Close()
	c := persist.NewClient(loc, persist.ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")

	// A buffer of 1 KiB: the 100 updates go to blob in sorted runs, which
	// AppendBatch merges into one batch.
	b := c.NewBatchBuilder("s", w.Upper(), 1<<10)
	for i := range 100 {
		key := []byte(fmt.Sprintf("k%02d", i%10))
		if err := b.Add(ctx, persist.Update{Key: key, Time: frontier.Time(i % 3), Diff: 1}); err != nil {
			b.Abort() // deletes the runs written so far
			panic(err)
		}
	}
	if err := w.AppendBatch(ctx, b, frontier.From[frontier.Time](3)); err != nil {
		panic(err)
	}
	st, _ := c.State(ctx, "s")
	fmt.Println("upper:", st.Upper, "batches:", len(st.Batches), "rows:", st.Batches[0].Parts[0].Rows)
	// Output:
	// upper: [3] batches: 1 rows: 30
}

func ExampleReadHandle_Listen() {
	ctx := context.Background()
	loc, _ := persist.OpenLocation(ctx, "mem://", "mem://")
	defer loc.Close()
	c := persist.NewClient(loc, persist.ClientOptions{})
	w, _ := c.OpenWriter(ctx, "s")
	from := frontier.From[frontier.Time]
	_ = w.CompareAndAppend(ctx, []persist.Update{{Key: []byte("a"), Time: 3, Diff: 1}}, from(0), from(4))
	_ = w.CompareAndAppend(ctx, nil, from(4), from(6))

	r, _ := c.OpenReader(ctx, "s", "example")
	l, _ := r.Listen(ctx, 0)
	defer l.Close()
	for !l.Frontier().Equal(from(6)) {
		ev, _ := l.Next(ctx)
		switch ev.Kind {
		case persist.ListenParts:
			fmt.Printf("parts of [%v, %v): %d\n", ev.Lower, ev.Upper, len(ev.Parts))
			for _, p := range ev.Parts {
				p.Lease.Release()
			}
		case persist.ListenProgress:
			fmt.Println("progress", ev.Upper)
		}
	}
	// Output:
	// parts of [[0], [4]): 1
	// progress [4]
	// progress [6]
}

func ExampleClient_Verify() {
	ctx := context.Background()
	loc, _ := persist.OpenLocation(ctx, "mem://", "mem://")
	defer loc.Close()
	// Parts written to blobs, so that one can go missing: a part this
	// small would otherwise be kept in the state itself.
	c := persist.NewClient(loc, persist.ClientOptions{InlineWriteMaxBytes: -1})
	w, _ := c.OpenWriter(ctx, "s")
	from := frontier.From[frontier.Time]
	_ = w.CompareAndAppend(ctx, []persist.Update{{Key: []byte("a"), Time: 0, Diff: 1}}, from(0), from(1))

	st, _ := c.State(ctx, "s")
	key := st.Batches[0].Parts[0].Key
	_, _ = loc.Blob.Delete(ctx, key) // simulate a lost blob

	rep, _ := c.Verify(ctx, "s")
	fmt.Println("ok:", rep.OK(), "parts:", rep.Parts, "missing:", len(rep.Missing))
	// Output:
	// ok: false parts: 1 missing: 1
}

// A location opened read-only (a backup, another user's directory) refuses
// to register a reader; an unregistered one reads it, writing nothing.
func ExampleClient_OpenUnregisteredReader() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "persist-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	loc, err := persist.DefaultLocation(ctx, dir)
	if err != nil {
		panic(err)
	}
	w, err := persist.NewClient(loc, persist.ClientOptions{}).OpenWriter(ctx, "orders")
	if err != nil {
		panic(err)
	}
	err = w.CompareAndAppend(ctx, []persist.Update{
		{Key: []byte("apple"), Val: []byte("3"), Time: 0, Diff: 1},
	}, frontier.From[frontier.Time](0), frontier.From[frontier.Time](1))
	if err != nil {
		panic(err)
	}
	if err := loc.Close(); err != nil {
		panic(err)
	}

	ro, err := persist.DefaultLocationReadOnly(ctx, dir)
	if err != nil {
		panic(err)
	}
	defer ro.Close()
	c := persist.NewClient(ro, persist.ClientOptions{})
	_, err = c.OpenReader(ctx, "orders", "example")
	fmt.Println("registered:", errors.Is(err, location.ErrReadOnly))

	r, err := c.OpenUnregisteredReader(ctx, "orders")
	if err != nil {
		panic(err)
	}
	parts, err := r.Snapshot(ctx, 0)
	if err != nil {
		panic(err)
	}
	for _, p := range parts {
		f, err := c.FetchLeased(ctx, p)
		if err != nil {
			panic(err)
		}
		for i := range f.Len() {
			fmt.Printf("unregistered: %s=%s @%d %+d\n", f.Key(i), f.Val(i), f.Time(i), f.Diff(i))
		}
		f.Release()
		p.Lease.Release()
	}
	if err := r.Expire(ctx); err != nil { // writes nothing: it only ends r
		panic(err)
	}
	// Output:
	// registered: true
	// unregistered: apple=3 @0 +1
}
