package gcblob

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadSized reads blobs whose reader announces the right size, too
// few, too many or none, into no buffer, a small one or a large one: the
// bytes returned are always the stream's, in the buffer when they fit.
func TestReadSized(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	for _, size := range []int64{0, -1, 1, 9999, 10000, 10001, 50000, maxSizedRead + 1} {
		for _, dstCap := range []int{0, 100, 10000, 60000} {
			for name, r := range map[string]func() io.Reader{
				"whole":    func() io.Reader { return bytes.NewReader(data) },
				"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
				"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
			} {
				dst := bytes.Repeat([]byte{'x'}, dstCap)
				got, err := ReadSized(r(), size, dst)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("size %d, cap %d, %s: got %d bytes, %v; want the %d bytes",
						size, dstCap, name, len(got), err, len(data))
				}
				inDst := dstCap > 0 && &got[0] == &dst[:1][0]
				// Sized reads use dst when the announced size fits; a value
				// longer than announced stays there if it fits too.
				fits := size > 0 && size <= maxSizedRead && int64(dstCap) >= size && dstCap >= len(data)
				if inDst != fits {
					t.Errorf("size %d, cap %d, %s: value in dst %v", size, dstCap, name, inDst)
				}
			}
		}
	}
	got, err := ReadSized(bytes.NewReader(nil), 10, make([]byte, 3, 20))
	if err != nil || len(got) != 0 {
		t.Errorf("empty blob announced as 10 bytes: %q, %v", got, err)
	}
	boom := errors.New("boom")
	for _, size := range []int64{10, 10000, 20000} {
		r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
		if _, err := ReadSized(r, size, nil); !errors.Is(err, boom) {
			t.Errorf("size %d: read error lost: %v", size, err)
		}
	}
}
