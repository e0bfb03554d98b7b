package part_test

import (
	"bytes"
	"testing"

	"github.com/shardflow/shardflow/persist/internal/part"
)

// TestBlobBufferReuse decodes parts read into pooled blob buffers, released
// right after Decode: the rows must not depend on the blob's bytes (under
// the invariants tag Release poisons them).
func TestBlobBufferReuse(t *testing.T) {
	var parts [][]byte
	var want [][]part.Update
	for _, n := range []int{1, 50, 3000, 20_000} {
		us := repeatedUpdates(n)
		data, _, err := part.Encode(us)
		if err != nil {
			t.Fatal(err)
		}
		parts, want = append(parts, data), append(want, us)
	}
	var held []*part.Decoded
	for round := range 3 {
		for i, data := range parts {
			bb := part.GetBlobBuffer()
			blob := append(bb.Storage(), data...) // as a Blob's GetInto would
			d, err := part.Decode(blob)
			bb.Release(blob)
			if err != nil {
				t.Fatalf("round %d part %d: %v", round, i, err)
			}
			held = append(held, d)
		}
	}
	for j, d := range held {
		us := want[j%len(parts)]
		checkDecoded(t, d, us)
		d.Release()
	}
	bb := part.GetBlobBuffer()
	if s := bb.Storage(); len(s) != 0 {
		t.Fatalf("Storage has length %d", len(s))
	}
	huge := make([]byte, 40<<20)
	bb.Release(huge) // not kept
	bb = part.GetBlobBuffer()
	if cap(bb.Storage()) >= len(huge) {
		t.Fatal("a 40 MB buffer was pooled")
	}
	bb.Release(bytes.Clone(parts[0]))
}
