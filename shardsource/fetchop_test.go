package shardsource

import (
	"errors"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/persist"
)

// A fetched part is decoded once, wherever: on a fetch goroutine that had
// nothing else to do (prepare) or by the operator as it takes it, and an
// error decoding gave on the goroutine reaches the operator just as one it
// gets itself, so the source freezes on it either way.
func TestFetchedDecodesOnce(t *testing.T) {
	bad := errors.New("corrupt part")
	for _, c := range []struct {
		name     string
		prepared bool
		err      error
	}{
		{"by the operator", false, nil},
		{"on the goroutine", true, nil},
		{"failing by the operator", false, bad},
		{"failing on the goroutine", true, bad},
	} {
		calls := 0
		want := &Part[[]byte, []byte]{}
		decode := func(*persist.EncodedPart) (*Part[[]byte, []byte], error) {
			calls++
			if c.err != nil {
				return nil, c.err
			}
			return want, nil
		}
		f := &fetched[[]byte, []byte]{encoded: &persist.EncodedPart{}}
		if c.prepared {
			f.decoded(decode)
		}
		p, err := f.decoded(decode)
		if calls != 1 {
			t.Errorf("%s: decoded %d times", c.name, calls)
		}
		if !errors.Is(err, c.err) || (c.err == nil && p != want) || (c.err != nil && p != nil) {
			t.Errorf("%s: got %v, %v", c.name, p, err)
		}
		if f.encoded != nil {
			t.Errorf("%s: the encoded part is still held after decoding", c.name)
		}
	}
}

// A decoder that panics fails its part with an error naming the panic,
// wherever it runs: on a fetch goroutine (prepare) the panic would take
// the process down. The error is kept, and the decoder not called again.
func TestFetchedDecodePanicIsAnError(t *testing.T) {
	for _, prepared := range []bool{false, true} {
		calls := 0
		decode := func(*persist.EncodedPart) (*Part[[]byte, []byte], error) {
			calls++
			panic("decoder boom")
		}
		f := &fetched[[]byte, []byte]{encoded: &persist.EncodedPart{}}
		if prepared {
			f.decoded(decode)
		}
		p, err := f.decoded(decode)
		if p != nil || err == nil || !strings.Contains(err.Error(), "decoder boom") {
			t.Errorf("prepared=%v: got %v, %v; want the panic as an error", prepared, p, err)
		}
		if calls != 1 || f.encoded != nil {
			t.Errorf("prepared=%v: decoded %d times, encoded part held %v", prepared, calls, f.encoded != nil)
		}
	}
}
