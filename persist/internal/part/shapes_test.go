package part

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/shardflow/shardflow/frontier"
)

// testShapes returns parts of several shapes: the P1 shape, plain pages
// after a dictionary overflow, many pages, long values, a small part.
func testShapes() map[string][]Update {
	shapes := map[string]struct{ rows, size, distinct int }{
		"p1":          {15_625, 16, 0},
		"overflow":    {60_000, 32, 0},
		"repeated":    {100_000, 16, 10},
		"long values": {100, 5000, 0},
		"small":       {3, 8, 0},
	}
	out := map[string][]Update{}
	for name, sh := range shapes {
		us := make([]Update, sh.rows)
		for i := range us {
			k := make([]byte, sh.size)
			if sh.distinct > 0 {
				k[0] = byte(i % sh.distinct)
			} else {
				binary.BigEndian.PutUint64(k[max(0, sh.size-8):], uint64(i)*0x9e3779b97f4a7c15)
			}
			us[i] = Update{Key: k, Val: k[:len(k)/2], Time: frontier.Time(i / 1000), Diff: int64(i%3 - 1)}
		}
		out[name] = us
	}
	return out
}

// TestDecodeShapes decodes parts of every shape testShapes makes,
// several times over (later rounds reuse pooled buffers), and damaged
// copies of them, which must decode or be refused as corrupt.
func TestDecodeShapes(t *testing.T) {
	inModes(t, func(t *testing.T) {
		for name, us := range testShapes() {
			data, _, err := Encode(us)
			if err != nil {
				t.Fatal(err)
			}
			for round := range 3 {
				d, err := Decode(data)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for i := range us {
					if !bytes.Equal(d.Key(i), us[i].Key) || !bytes.Equal(d.Val(i), us[i].Val) ||
						d.Time(i) != us[i].Time || d.Diff(i) != us[i].Diff {
						t.Fatalf("%s round %d: row %d differs", name, round, i)
					}
				}
				d.Release()
			}
			for _, at := range []int{4, len(data) / 3, len(data) / 2, len(data) - 9, len(data) - 5} {
				bad := bytes.Clone(data)
				bad[at] ^= 0x40
				d, err := Decode(bad)
				if err == nil {
					d.Release()
				} else if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: damaged at %d: %v does not wrap ErrCorrupt", name, at, err)
				}
			}
			if _, err := Decode(data[:len(data)/2]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: cut in half: %v", name, err)
			}
		}
	})
}
