package part_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/shardflow/shardflow/persist/internal/part"
)

func Example() {
	data, stats, err := part.Encode([]part.Update{
		{Key: []byte("apple"), Val: []byte("red"), Time: 3, Diff: 1},
		{Key: []byte("banana"), Val: []byte("yellow"), Time: 5, Diff: 2},
		{Key: []byte("apple"), Val: []byte("red"), Time: 7, Diff: -1},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("rows=%d times=[%d,%d] keys=[%s,%s] diffs=%d\n",
		stats.Rows, stats.MinTime, stats.MaxTime, stats.KeyLower, stats.KeyUpper, stats.DiffsSum)

	// The writer records the checksum with the part's reference; a reader
	// verifies it before decoding.
	sum := part.Checksum(data)
	if err := part.Verify(data, sum); err != nil {
		panic(err)
	}
	d, err := part.Decode(data)
	if err != nil {
		panic(err)
	}
	defer d.Release()
	for i := range d.Len() {
		fmt.Printf("%s %s %d %+d\n", d.Key(i), d.Val(i), d.Time(i), d.Diff(i))
	}

	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 1
	err = part.Verify(flipped, sum)
	fmt.Println(errors.Is(err, part.ErrCorrupt))
	// Output:
	// rows=3 times=[3,7] keys=[apple,banana] diffs=2
	// apple red 3 +1
	// banana yellow 5 +2
	// apple red 7 -1
	// true
}

func ExampleSplit() {
	updates := make([]part.Update, 10)
	for i := range updates {
		updates[i] = part.Update{Key: make([]byte, 40), Val: make([]byte, 36), Time: 1, Diff: 1}
	}
	// Each update is budgeted at 40+36 bytes plus a fixed per-row overhead.
	fmt.Println(part.EstimatedSize(updates[0]))
	for _, run := range part.Split(updates, 300) {
		fmt.Print(len(run), " ")
	}
	fmt.Println()
	// Output:
	// 100
	// 3 3 3 1
}
