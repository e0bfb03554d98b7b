package gcblob

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadSized reads blobs whose reader announces the right size, too
// few, too many or none: the bytes returned are always the stream's.
func TestReadSized(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	for _, size := range []int64{0, -1, 1, 9999, 10000, 10001, 50000, maxSizedRead + 1} {
		for name, r := range map[string]func() io.Reader{
			"whole":    func() io.Reader { return bytes.NewReader(data) },
			"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
			"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
		} {
			got, err := readSized(r(), size)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("size %d, %s: got %d bytes, %v; want the %d bytes", size, name, len(got), err, len(data))
			}
		}
	}
	got, err := readSized(bytes.NewReader(nil), 10)
	if err != nil || len(got) != 0 {
		t.Errorf("empty blob announced as 10 bytes: %q, %v", got, err)
	}
	boom := errors.New("boom")
	for _, size := range []int64{10, 10000, 20000} {
		r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
		if _, err := readSized(r, size); !errors.Is(err, boom) {
			t.Errorf("size %d: read error lost: %v", size, err)
		}
	}
}
