package part_test

import (
	"bytes"
	"testing"

	"github.com/shardflow/shardflow/persist/internal/part"
)

// TestBlobBufferReuse decodes parts read into pooled blob buffers, which
// each Decoded holds until its Release: the rows must stay intact while
// other parts are read into other pooled buffers (under the invariants tag
// a released buffer is poisoned, too).
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
	for round := range 3 {
		var held []*part.Decoded
		for i, data := range parts {
			bb := part.GetBlobBuffer()
			blob := append(bb.Storage(), data...) // as a Blob's GetInto would
			d, err := part.Decode(blob)
			if err != nil {
				bb.Release(blob)
				t.Fatalf("round %d part %d: %v", round, i, err)
			}
			d.Hold(bb, blob)
			held = append(held, d)
			if i%2 == 1 { // release some early, so that later parts reuse their buffers
				checkDecoded(t, held[i-1], want[i-1])
				held[i-1].Release()
			}
		}
		for j, d := range held {
			if d.Len() > 0 || len(want[j]) == 0 {
				checkDecoded(t, d, want[j])
			}
			d.Release()
		}
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
