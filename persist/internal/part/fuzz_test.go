package part_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/part"
)

// FuzzDecode feeds Decode and ReadStats arbitrary bytes, seeded with valid
// parts and damaged copies of them. Neither may panic; every error wraps
// ErrCorrupt; whatever decodes can be read in full; and a decoded part
// re-encodes to bytes that decode to the same rows.
func FuzzDecode(f *testing.F) {
	var seeds [][]byte
	for _, us := range [][]part.Update{
		nil,
		{{Key: []byte("k"), Val: []byte("v"), Time: 1, Diff: 1}},
		{{Key: []byte("a"), Time: 0, Diff: -1}, {Key: []byte("a"), Val: []byte("xyz"), Time: 1 << 63, Diff: 5}, {Time: 2}},
		repeatedUpdates(50),
	} {
		data, _, err := part.Encode(us)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
		f.Add(s[:len(s)-1])
		f.Add(s[len(s)/3:])
		for _, at := range []int{4, len(s) / 3, len(s) / 2, len(s) - 9, len(s) - 5} {
			b := bytes.Clone(s)
			b[at] ^= 0x40
			f.Add(b)
		}
	}
	f.Add([]byte("PAR1PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// ReadStats and Decode turn a panic into ErrCorrupt ("...
		// panicked"): a bug all the same.
		if _, err := part.ReadStats(data); err != nil && (!errors.Is(err, part.ErrCorrupt) || strings.Contains(err.Error(), "panicked")) {
			t.Fatalf("ReadStats error %v: want ErrCorrupt, not a panic", err)
		}
		d, err := part.Decode(data)
		if err != nil {
			if !errors.Is(err, part.ErrCorrupt) || strings.Contains(err.Error(), "panicked") {
				t.Fatalf("Decode error %v: want ErrCorrupt, not a panic", err)
			}
			return
		}
		defer d.Release()
		us := make([]part.Update, d.Len())
		for i := range us {
			us[i] = part.Update{Key: d.Key(i), Val: d.Val(i), Time: d.Time(i), Diff: d.Diff(i)}
		}
		again, _, err := part.Encode(us)
		if err != nil {
			t.Fatalf("re-encoding %d decoded rows: %v", len(us), err)
		}
		d2, err := part.Decode(again)
		if err != nil {
			t.Fatalf("decoding the re-encoded part: %v", err)
		}
		defer d2.Release()
		checkDecoded(t, d2, us)
	})
}

func repeatedUpdates(n int) []part.Update {
	us := make([]part.Update, n)
	for i := range us {
		us[i] = part.Update{Key: []byte{byte(i % 4)}, Val: bytes.Repeat([]byte{'v'}, i%5), Time: frontier.Time(i % 3), Diff: 1}
	}
	return us
}
