package render

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConsolidateMatchesModel checks Consolidate against a map from
// (time, key, val) to summed diff, on random batches. Some diffs are near
// the int64 limits: a sum outside the range must be reported, one inside it
// printed right however its partial sums wrapped.
func TestConsolidateMatchesModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for iter := 0; iter < 2000; iter++ {
		var ups []Update
		model := map[string]*big.Int{}
		for i := rng.IntN(30); i > 0; i-- {
			u := Update{
				Key:  []byte{byte('a' + rng.IntN(3))},
				Val:  []byte{byte('x' + rng.IntN(2))},
				Time: uint64(rng.IntN(3)),
				Diff: int64(rng.IntN(5) - 2),
			}
			if iter%2 == 1 && rng.IntN(3) == 0 {
				u.Diff = math.MaxInt64 - int64(rng.IntN(3))
				if rng.IntN(2) == 0 {
					u.Diff = math.MinInt64 + int64(rng.IntN(3))
				}
			}
			ups = append(ups, u)
			k := fmt.Sprintf("%020d %s %s", u.Time, u.Key, u.Val)
			if model[k] == nil {
				model[k] = new(big.Int)
			}
			model[k].Add(model[k], big.NewInt(u.Diff))
		}
		var want []string
		overflows := false
		for k, d := range model {
			if !d.IsInt64() {
				overflows = true
				continue
			}
			if d.Sign() != 0 {
				want = append(want, fmt.Sprintf("%s %d", k, d))
			}
		}
		slices.Sort(want)
		cons, err := Consolidate(ups)
		var oe *DiffOverflowError
		if overflows != errors.As(err, &oe) {
			t.Fatalf("seed %d iteration %d: overflow %v, error %v", seed, iter, overflows, err)
		}
		if overflows {
			continue
		}
		var got []string
		for _, u := range cons {
			got = append(got, fmt.Sprintf("%020d %s %s %d", u.Time, u.Key, u.Val, u.Diff))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d iteration %d:\n got %v\nwant %v", seed, iter, got, want)
		}
	}
}

// TestConsolidateOverflowMessage: the error names the update and the side.
func TestConsolidateOverflowMessage(t *testing.T) {
	_, err := Consolidate([]Update{
		{Key: []byte(`"a"`), Val: []byte(`1`), Time: 3, Diff: math.MaxInt64},
		{Key: []byte(`"a"`), Val: []byte(`1`), Time: 3, Diff: 1},
	})
	want := `the diffs of key "a" val 1 at time 3 sum to above 9223372036854775807, outside the int64 range`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

func TestJSONValue(t *testing.T) {
	if got := string(JSONValue([]byte(`{"a":1}`))); got != `{"a":1}` {
		t.Errorf("valid JSON changed: %s", got)
	}
	if got := string(JSONValue([]byte("raw\x00"))); got != `"raw\u0000"` {
		t.Errorf("invalid JSON not quoted: %s", got)
	}
}

func TestPrinters(t *testing.T) {
	ups := []Update{{Key: []byte(`"a"`), Val: []byte(`{"n":1}`), Time: 2, Diff: 1}}
	for _, tc := range []struct {
		f    Format
		want string
	}{
		{JSONL, "{\"key\":\"a\",\"val\":{\"n\":1},\"time\":2,\"diff\":1}\n{\"frontier\":[3]}\n{\"error\":\"boom \\\"x\\\"\",\"frontier\":[3]}\n"},
		{CSV, "key,val,time,diff\n\"\"\"a\"\"\",\"{\"\"n\"\":1}\",2,1\n"},
		{Table, "TIME  DIFF  KEY  VAL\n2     +1    \"a\"  {\"n\":1}\n-- frontier [3]\n-- error at frontier [3]: boom \"x\"\n"},
	} {
		var sb strings.Builder
		p := NewPrinter(&sb, tc.f)
		if err := p.Updates(ups); err != nil {
			t.Fatal(err)
		}
		if err := p.Frontier([]uint64{3}); err != nil {
			t.Fatal(err)
		}
		if err := p.Error(`boom "x"`, []uint64{3}); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		if sb.String() != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.f, sb.String(), tc.want)
		}
	}
}

func ExamplePrinter() {
	p := NewPrinter(os.Stdout, JSONL)
	ups, _ := Consolidate([]Update{
		{Key: []byte(`"b"`), Val: []byte(`1`), Time: 1, Diff: 1},
		{Key: []byte(`"a"`), Val: []byte(`1`), Time: 1, Diff: 2},
		{Key: []byte(`"b"`), Val: []byte(`1`), Time: 1, Diff: -1},
	})
	_ = p.Updates(ups)
	_ = p.Frontier([]uint64{2})
	_ = p.Frontier(nil)
	// Output:
	// {"key":"a","val":1,"time":1,"diff":2}
	// {"frontier":[2]}
	// {"frontier":[]}
}
