package file_test

import (
	"testing"

	"github.com/shardflow/shardflow/persist/location/file"
)

func TestGetInto(t *testing.T) {
	b, err := file.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	value := []byte("a value of some thirty-two bytes")
	if err := b.Set(t.Context(), "dir/k", value); err != nil {
		t.Fatal(err)
	}
	for _, dst := range [][]byte{nil, make([]byte, 0, 8), make([]byte, 0, 64)} {
		got, ok, err := b.GetInto(t.Context(), "dir/k", dst)
		if err != nil || !ok || string(got) != string(value) {
			t.Fatalf("GetInto(cap %d) = %q, %v, %v", cap(dst), got, ok, err)
		}
		if inDst := cap(dst) > 0 && &got[:1][0] == &dst[:1][0]; inDst != (cap(dst) >= len(value)) {
			t.Errorf("GetInto(cap %d): value in dst %v", cap(dst), inDst)
		}
	}
	if _, ok, err := b.GetInto(t.Context(), "dir/missing", nil); ok || err != nil {
		t.Fatalf("GetInto(missing) = %v, %v", ok, err)
	}
}
