package shardsource

import (
	"errors"
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
