package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/internal/testseed"
)

// TestConsolidateMatchesModel checks Consolidate against a map from
// (time, key, val) to summed diff, on random batches. Some diffs are near
// the int64 limits: a sum outside the range must be reported, one inside it
// printed right however its partial sums wrapped.
func TestConsolidateMatchesModel(t *testing.T) {
	seed := testseed.New(t)
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
	// JSON that spans lines, which the library lets a writer store, comes
	// out on one line, or a JSONL update would take two. (Before, it was
	// copied as it was.)
	if got := string(JSONValue([]byte("[1,\r\n 2, \"a b\"]"))); got != `[1,2,"a b"]` {
		t.Errorf("JSON spanning lines printed as %q", got)
	}
	if got := string(JSONValue([]byte(`[1, 2]`))); got != `[1, 2]` {
		t.Errorf("JSON on one line changed: %q", got)
	}
}

// FuzzJSONValue: whatever the bytes, JSONValue gives one line of valid
// JSON, b itself when b is valid JSON on one line.
func FuzzJSONValue(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "[1,\n2]", "raw\x00", "\"a\\nb\"", "\xff", " 1 "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := JSONValue(b)
		if !json.Valid(got) || bytes.ContainsAny(got, "\n\r") {
			t.Fatalf("JSONValue(%q) = %q: not one line of valid JSON", b, got)
		}
		if json.Valid(b) && !bytes.ContainsAny(b, "\n\r") && !bytes.Equal(got, b) {
			t.Fatalf("JSONValue(%q) = %q: valid JSON on one line changed", b, got)
		}
	})
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

// An overflow's message spells the key and val as the printer does: JSON
// spanning lines on one line, bytes that are no JSON as a JSON string.
// (Before, they were printed raw.)
func TestDiffOverflowErrorSpellsKeysAsPrinted(t *testing.T) {
	e := &DiffOverflowError{Key: []byte("[1,\n2]"), Val: []byte("raw\x00"), Time: 3, Up: true}
	want := `the diffs of key [1,2] val "raw\u0000" at time 3 sum to above 9223372036854775807, outside the int64 range`
	if got := e.Error(); got != want {
		t.Fatalf("message %q\nwant %q", got, want)
	}
}
