package persisttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
)

// TestConsensus runs the Consensus conformance suite. open must return a new,
// empty store each time it is called; the suite closes it.
func TestConsensus(t *testing.T, open func(t *testing.T) location.Consensus) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, c location.Consensus)
	}{
		{"HeadMissing", consensusHeadMissing},
		{"CASNilOnEmpty", consensusCASNilOnEmpty},
		{"CASNilOnExisting", consensusCASNilOnExisting},
		{"CASExpectedOnEmpty", consensusCASExpectedOnEmpty},
		{"CASWrongExpected", consensusCASWrongExpected},
		{"CASChain", consensusCASChain},
		{"SeqNoMustIncrease", consensusSeqNoMustIncrease},
		{"KeysIndependent", consensusKeysIndependent},
		{"EmptyAndLargeData", consensusEmptyAndLargeData},
		{"ValueIsolation", consensusValueIsolation},
		{"Scan", consensusScan},
		{"ScanMissing", consensusScanMissing},
		{"Truncate", consensusTruncate},
		{"TruncateRefused", consensusTruncateRefused},
		{"ListKeys", consensusListKeys},
		{"Keys", consensusKeys},
		{"CancelledContext", consensusCancelledContext},
		{"ConcurrentCAS", consensusConcurrentCAS},
		{"Model", consensusModel},
		{"Script", consensusScriptTest},
		{"Watch", consensusWatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t)
			defer func() {
				if err := c.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, c)
		})
	}
}

func seq(n location.SeqNo) *location.SeqNo { return &n }

func vd(s location.SeqNo, data string) location.VersionedData {
	return location.VersionedData{SeqNo: s, Data: []byte(data)}
}

// mustCAS performs a compare-and-set that must commit.
func mustCAS(t *testing.T, c location.Consensus, key string, expected *location.SeqNo, next location.VersionedData) {
	t.Helper()
	res, err := c.CompareAndSet(t.Context(), key, expected, next)
	if err != nil {
		t.Fatalf("CompareAndSet(%q, %v, %d): %v", key, fmtSeq(expected), next.SeqNo, err)
	}
	if res != location.Committed {
		t.Fatalf("CompareAndSet(%q, %v, %d) = %v, want committed", key, fmtSeq(expected), next.SeqNo, res)
	}
}

// wantCAS performs a compare-and-set that must return want without error.
func wantCAS(t *testing.T, c location.Consensus, key string, expected *location.SeqNo, next location.VersionedData, want location.CaSResult) {
	t.Helper()
	res, err := c.CompareAndSet(t.Context(), key, expected, next)
	if err != nil {
		t.Fatalf("CompareAndSet(%q, %v, %d): %v", key, fmtSeq(expected), next.SeqNo, err)
	}
	if res != want {
		t.Fatalf("CompareAndSet(%q, %v, %d) = %v, want %v", key, fmtSeq(expected), next.SeqNo, res, want)
	}
}

func fmtSeq(s *location.SeqNo) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprint(*s)
}

// wantHead checks the head of key; want nil means the key has no version.
func wantHead(t *testing.T, c location.Consensus, key string, want *location.VersionedData) {
	t.Helper()
	got, ok, err := c.Head(t.Context(), key)
	if err != nil {
		t.Fatalf("Head(%q): %v", key, err)
	}
	switch {
	case want == nil && ok:
		t.Fatalf("Head(%q) = seqno %d, want none", key, got.SeqNo)
	case want != nil && !ok:
		t.Fatalf("Head(%q) = none, want seqno %d", key, want.SeqNo)
	case want != nil && (got.SeqNo != want.SeqNo || !bytes.Equal(got.Data, want.Data)):
		t.Fatalf("Head(%q) = (%d, %q), want (%d, %q)", key, got.SeqNo, got.Data, want.SeqNo, want.Data)
	}
}

// wantScan checks that Scan(key, from, limit) returns exactly the seqnos
// want, in order, with the data "v<seqno>".
func wantScan(t *testing.T, c location.Consensus, key string, from location.SeqNo, limit int, want ...location.SeqNo) {
	t.Helper()
	got, err := c.Scan(t.Context(), key, from, limit)
	if err != nil {
		t.Fatalf("Scan(%q, %d, %d): %v", key, from, limit, err)
	}
	var seqs []location.SeqNo
	for _, v := range got {
		seqs = append(seqs, v.SeqNo)
		if w := fmt.Sprintf("v%d", v.SeqNo); string(v.Data) != w {
			t.Errorf("Scan(%q): seqno %d has data %q, want %q", key, v.SeqNo, v.Data, w)
		}
	}
	if !slices.Equal(seqs, want) {
		t.Fatalf("Scan(%q, %d, %d) = %v, want %v", key, from, limit, seqs, want)
	}
}

// chain writes versions with the given increasing seqnos, data "v<seqno>".
func chain(t *testing.T, c location.Consensus, key string, seqnos ...location.SeqNo) {
	t.Helper()
	var expected *location.SeqNo
	for _, s := range seqnos {
		mustCAS(t, c, key, expected, vd(s, fmt.Sprintf("v%d", s)))
		expected = seq(s)
	}
}

func wantDeterminate(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want a determinate error", what)
	}
	var ee *location.ExternalError
	if !errors.As(err, &ee) {
		t.Fatalf("%s: error %v (%T) is not a *location.ExternalError", what, err, err)
	}
	if location.IsIndeterminate(err) {
		t.Fatalf("%s: error %v is indeterminate, want determinate", what, err)
	}
}

func consensusHeadMissing(t *testing.T, c location.Consensus) {
	wantHead(t, c, "missing", nil)
}

func consensusCASNilOnEmpty(t *testing.T, c location.Consensus) {
	// The first version may have any seqno.
	mustCAS(t, c, "k", nil, vd(5, "five"))
	want := vd(5, "five")
	wantHead(t, c, "k", &want)
}

func consensusCASNilOnExisting(t *testing.T, c location.Consensus) {
	mustCAS(t, c, "k", nil, vd(1, "one"))
	wantCAS(t, c, "k", nil, vd(2, "two"), location.ExpectationMismatch)
	want := vd(1, "one")
	wantHead(t, c, "k", &want)
}

func consensusCASExpectedOnEmpty(t *testing.T, c location.Consensus) {
	wantCAS(t, c, "k", seq(0), vd(1, "one"), location.ExpectationMismatch)
	wantCAS(t, c, "k", seq(3), vd(4, "four"), location.ExpectationMismatch)
	wantHead(t, c, "k", nil)
	wantScan(t, c, "k", 0, 10)
}

func consensusCASWrongExpected(t *testing.T, c location.Consensus) {
	chain(t, c, "k", 1, 2, 3)
	for _, e := range []location.SeqNo{0, 1, 2, 4, 100} {
		wantCAS(t, c, "k", seq(e), vd(e+1000, "nope"), location.ExpectationMismatch)
	}
	want := vd(3, "v3")
	wantHead(t, c, "k", &want)
	wantScan(t, c, "k", 0, 100, 1, 2, 3)
}

func consensusCASChain(t *testing.T, c location.Consensus) {
	// Gaps between seqnos are allowed; only increase is required.
	chain(t, c, "k", 0, 1, 7, 8, 1<<40)
	want := vd(1<<40, fmt.Sprintf("v%d", uint64(1<<40)))
	wantHead(t, c, "k", &want)
	wantScan(t, c, "k", 0, 100, 0, 1, 7, 8, 1<<40)
}

func consensusSeqNoMustIncrease(t *testing.T, c location.Consensus) {
	chain(t, c, "k", 5)
	for _, next := range []location.SeqNo{5, 4, 0} {
		res, err := c.CompareAndSet(t.Context(), "k", seq(5), vd(next, "bad"))
		if err == nil && res == location.Committed {
			t.Fatalf("CompareAndSet(expected 5, next %d) committed; next must be greater than expected", next)
		}
		if err != nil {
			wantDeterminate(t, fmt.Sprintf("CompareAndSet(expected 5, next %d)", next), err)
			if !errors.Is(err, location.ErrSeqNoNotIncreasing) {
				t.Errorf("CompareAndSet(expected 5, next %d): %v does not wrap location.ErrSeqNoNotIncreasing", next, err)
			}
		}
	}
	want := vd(5, "v5")
	wantHead(t, c, "k", &want)
	wantScan(t, c, "k", 0, 100, 5)
}

func consensusKeysIndependent(t *testing.T, c location.Consensus) {
	chain(t, c, "a", 1, 2)
	chain(t, c, "b", 10)
	wantCAS(t, c, "a", seq(10), vd(11, "x"), location.ExpectationMismatch)
	chain(t, c, "c", 2)
	a, b := vd(2, "v2"), vd(10, "v10")
	wantHead(t, c, "a", &a)
	wantHead(t, c, "b", &b)
	wantScan(t, c, "a", 0, 10, 1, 2)
	wantScan(t, c, "b", 0, 10, 10)
	if n, err := c.Truncate(t.Context(), "a", 2); err != nil || n != 1 {
		t.Fatalf("Truncate(a, 2) = %d, %v; want 1, nil", n, err)
	}
	wantScan(t, c, "b", 0, 10, 10)
	wantScan(t, c, "c", 0, 10, 2)
}

func consensusEmptyAndLargeData(t *testing.T, c location.Consensus) {
	mustCAS(t, c, "empty", nil, location.VersionedData{SeqNo: 1})
	mustCAS(t, c, "empty", seq(1), location.VersionedData{SeqNo: 2, Data: []byte{}})
	for _, s := range []location.SeqNo{1, 2} {
		vs, err := c.Scan(t.Context(), "empty", s, 1)
		if err != nil || len(vs) != 1 || vs[0].SeqNo != s || len(vs[0].Data) != 0 {
			t.Fatalf("Scan(empty, %d, 1) = %v, %v; want one empty version", s, vs, err)
		}
	}
	large := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	large[len(large)-1] = 0
	mustCAS(t, c, "large", nil, location.VersionedData{SeqNo: 1, Data: large})
	want := location.VersionedData{SeqNo: 1, Data: large}
	wantHead(t, c, "large", &want)
}

func consensusValueIsolation(t *testing.T, c location.Consensus) {
	data := []byte("original")
	mustCAS(t, c, "k", nil, location.VersionedData{SeqNo: 1, Data: data})
	copy(data, "XXXXXXXX")
	want := vd(1, "original")
	wantHead(t, c, "k", &want)

	got, _, err := c.Head(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	copy(got.Data, "YYYYYYYY")
	vs, err := c.Scan(t.Context(), "k", 0, 1)
	if err != nil || len(vs) != 1 {
		t.Fatalf("Scan = %v, %v", vs, err)
	}
	copy(vs[0].Data, "ZZZZZZZZ")
	wantHead(t, c, "k", &want)
	wantScan(t, c, "k", 0, 0) // limit 0: nothing
	if vs, err := c.Scan(t.Context(), "k", 0, 1); err != nil || string(vs[0].Data) != "original" {
		t.Fatalf("Scan after mutating returned slices = %v, %v", vs, err)
	}
}

func consensusScan(t *testing.T, c location.Consensus) {
	chain(t, c, "k", 2, 4, 6, 8, 10)
	wantScan(t, c, "k", 0, 100, 2, 4, 6, 8, 10)
	wantScan(t, c, "k", 0, 1, 2)
	wantScan(t, c, "k", 4, 2, 4, 6)
	wantScan(t, c, "k", 5, 2, 6, 8)
	wantScan(t, c, "k", 10, 5, 10)
	wantScan(t, c, "k", 11, 5)
	wantScan(t, c, "k", 3, 100, 4, 6, 8, 10)
	wantScan(t, c, "k", 0, 0)
	wantScan(t, c, "k", 0, -1)
}

func consensusScanMissing(t *testing.T, c location.Consensus) {
	wantScan(t, c, "missing", 0, 10)
}

func consensusTruncate(t *testing.T, c location.Consensus) {
	chain(t, c, "k", 1, 2, 3, 4, 5)
	truncate := func(s location.SeqNo, want int) {
		t.Helper()
		n, err := c.Truncate(t.Context(), "k", s)
		if err != nil || n != want {
			t.Fatalf("Truncate(k, %d) = %d, %v; want %d, nil", s, n, err, want)
		}
	}
	truncate(0, 0)
	truncate(1, 0)
	truncate(3, 2)
	wantScan(t, c, "k", 0, 100, 3, 4, 5)
	truncate(3, 0)
	truncate(2, 0)
	// Truncating up to the head deletes everything but the head.
	truncate(5, 2)
	wantScan(t, c, "k", 0, 100, 5)
	want := vd(5, "v5")
	wantHead(t, c, "k", &want)
	// The log continues from the head.
	mustCAS(t, c, "k", seq(5), vd(6, "v6"))
	truncate(6, 1)
	wantScan(t, c, "k", 0, 100, 6)
}

func consensusTruncateRefused(t *testing.T, c location.Consensus) {
	chain(t, c, "k", 1, 2, 3)
	n, err := c.Truncate(t.Context(), "k", 4)
	wantDeterminate(t, "Truncate beyond the head", err)
	if !errors.Is(err, location.ErrTruncateBeyondHead) {
		t.Errorf("Truncate beyond the head: %v does not wrap location.ErrTruncateBeyondHead", err)
	}
	if n != 0 {
		t.Fatalf("refused Truncate reported %d deleted", n)
	}
	wantScan(t, c, "k", 0, 100, 1, 2, 3)
	_, err = c.Truncate(t.Context(), "missing", 1)
	wantDeterminate(t, "Truncate of a key with no versions", err)
	_, err = c.Truncate(t.Context(), "missing", 0)
	wantDeterminate(t, "Truncate(0) of a key with no versions", err)
}

func consensusListKeys(t *testing.T, c location.Consensus) {
	keys, err := c.ListKeys(t.Context())
	if err != nil || len(keys) != 0 {
		t.Fatalf("ListKeys on an empty store = %v, %v", keys, err)
	}
	wantCAS(t, c, "never", seq(1), vd(2, "x"), location.ExpectationMismatch)
	want := []string{"a", "b/c", "shard-0123.x_y"}
	for _, k := range want {
		chain(t, c, k, 1, 2)
	}
	if _, err := c.Truncate(t.Context(), "a", 2); err != nil {
		t.Fatal(err)
	}
	keys, err = c.ListKeys(t.Context())
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Fatalf("ListKeys = %q, want %q", keys, want)
	}
}

// consensusKeys: a key CheckKey accepts works whole, the longest and
// non-ASCII ones too; one it refuses is refused by every operation with a
// determinate ErrInvalidKey, and nothing is written.
func consensusKeys(t *testing.T, c location.Consensus) {
	ctx := t.Context()
	longest := strings.Repeat("é", location.MaxKeyBytes/2) // 2 bytes each
	for _, k := range []string{longest, "shard/ü-€-😀", " spaced key "} {
		chain(t, c, k, 1, 2)
		wantHead(t, c, k, &location.VersionedData{SeqNo: 2, Data: []byte("v2")})
		wantScan(t, c, k, 0, 10, 1, 2)
	}
	keys, err := c.ListKeys(ctx)
	if err != nil || !slices.Contains(keys, longest) {
		t.Fatalf("ListKeys = %d keys, %v: the longest key is missing", len(keys), err)
	}
	for name, k := range map[string]string{
		"one byte too long": longest + "k",
		"NUL":               "a\x00b",
		"invalid UTF-8":     "a\xffb",
	} {
		check := func(op string, err error) {
			t.Helper()
			wantDeterminate(t, name+": "+op, err)
			if !errors.Is(err, location.ErrInvalidKey) {
				t.Fatalf("%s: %s: %v, want ErrInvalidKey", name, op, err)
			}
		}
		_, err := c.CompareAndSet(ctx, k, nil, vd(1, "v1"))
		check("CompareAndSet", err)
		_, _, err = c.Head(ctx, k)
		check("Head", err)
		_, err = c.Scan(ctx, k, 0, 10)
		check("Scan", err)
		_, err = c.Truncate(ctx, k, 1)
		check("Truncate", err)
		if w, ok := c.(location.Watcher); ok {
			_, _, err = w.Watch(ctx, k)
			check("Watch", err)
		}
	}
	if keys, err := c.ListKeys(ctx); err != nil || len(keys) != 3 {
		t.Fatalf("ListKeys = %q, %v, want the 3 valid keys only", keys, err)
	}
}

func consensusCancelledContext(t *testing.T, c location.Consensus) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := c.Head(ctx, "k"); err == nil {
		t.Errorf("Head with a cancelled context: no error")
	}
	if _, err := c.CompareAndSet(ctx, "k", nil, vd(1, "v1")); err == nil {
		t.Errorf("CompareAndSet with a cancelled context: no error")
	}
	if _, err := c.Scan(ctx, "k", 0, 10); err == nil {
		t.Errorf("Scan with a cancelled context: no error")
	}
	if _, err := c.ListKeys(ctx); err == nil {
		t.Errorf("ListKeys with a cancelled context: no error")
	}
	// The store still works with a live context.
	res, err := c.CompareAndSet(t.Context(), "other", nil, vd(1, "v1"))
	if err != nil || res != location.Committed {
		t.Fatalf("CompareAndSet after cancelled calls = %v, %v", res, err)
	}
}
