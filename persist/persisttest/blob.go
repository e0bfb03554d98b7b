package persisttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

// TestBlob runs the Blob conformance suite. open must return a new, empty
// store each time it is called; the suite closes it.
func TestBlob(t *testing.T, open func(t *testing.T) location.Blob) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b location.Blob)
	}{
		{"GetMissing", blobGetMissing},
		{"SetGet", blobSetGet},
		{"Overwrite", blobOverwrite},
		{"EmptyValue", blobEmptyValue},
		{"Delete", blobDelete},
		{"DeleteMissing", blobDeleteMissing},
		{"List", blobList},
		{"ListPrefix", blobListPrefix},
		{"ListStopsOnError", blobListStopsOnError},
		{"LargeValues", blobLargeValues},
		{"ValueIsolation", blobValueIsolation},
		{"CancelledContext", blobCancelledContext},
		{"ConcurrentSetGet", blobConcurrentSetGet},
		{"Model", blobModel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t)
			defer func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, b)
		})
	}
}

func mustSet(t *testing.T, b location.Blob, key string, value []byte) {
	t.Helper()
	if err := b.Set(t.Context(), key, value); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// wantGet checks the value of key; want nil means missing.
func wantGet(t *testing.T, b location.Blob, key string, want []byte) {
	t.Helper()
	got, ok, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	switch {
	case want == nil && ok:
		t.Fatalf("Get(%q) = %d bytes, want missing", key, len(got))
	case want != nil && !ok:
		t.Fatalf("Get(%q) = missing, want %d bytes", key, len(want))
	case want != nil && !bytes.Equal(got, want):
		t.Fatalf("Get(%q) = %q, want %q", key, trunc(got), trunc(want))
	}
	// A backend that says whether a key exists says what Get found.
	if e, ok := b.(location.Exister); ok {
		exists, err := e.Exists(t.Context(), key)
		if err != nil || exists != (want != nil) {
			t.Fatalf("Exists(%q) = %v, %v; Get found it: %v", key, exists, err, want != nil)
		}
	}
}

func trunc(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// list returns the listed blobs with the prefix by key.
func list(t *testing.T, b location.Blob, prefix string) map[string]location.BlobMeta {
	t.Helper()
	out := map[string]location.BlobMeta{}
	err := b.List(t.Context(), prefix, func(m location.BlobMeta) error {
		if _, dup := out[m.Key]; dup {
			t.Errorf("List(%q) listed %q twice", prefix, m.Key)
		}
		out[m.Key] = m
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return out
}

func sortedKeys(m map[string]location.BlobMeta) []string {
	return slices.Sorted(maps.Keys(m))
}

func blobGetMissing(t *testing.T, b location.Blob) {
	wantGet(t, b, "missing", nil)
	wantGet(t, b, "dir/missing", nil)
}

func blobSetGet(t *testing.T, b location.Blob) {
	mustSet(t, b, "k", []byte("value"))
	mustSet(t, b, "shard-1/part-0a.parquet", []byte("part"))
	wantGet(t, b, "k", []byte("value"))
	wantGet(t, b, "shard-1/part-0a.parquet", []byte("part"))
	wantGet(t, b, "shard-1", nil)
	wantGet(t, b, "shard-1/part-0a", nil)
}

func blobOverwrite(t *testing.T, b location.Blob) {
	mustSet(t, b, "k", []byte("first, and longer"))
	mustSet(t, b, "k", []byte("second"))
	wantGet(t, b, "k", []byte("second"))
	if m := list(t, b, ""); m["k"].Size != int64(len("second")) {
		t.Fatalf("List after overwrite: size %d, want %d", m["k"].Size, len("second"))
	}
}

func blobEmptyValue(t *testing.T, b location.Blob) {
	mustSet(t, b, "empty", []byte{})
	mustSet(t, b, "nil", nil)
	wantGet(t, b, "empty", []byte{})
	wantGet(t, b, "nil", []byte{})
	m := list(t, b, "")
	if got := sortedKeys(m); !slices.Equal(got, []string{"empty", "nil"}) || m["empty"].Size != 0 {
		t.Fatalf("List = %v (empty size %d)", got, m["empty"].Size)
	}
}

func blobDelete(t *testing.T, b location.Blob) {
	mustSet(t, b, "a/k", []byte("v"))
	mustSet(t, b, "a/other", []byte("w"))
	existed, err := b.Delete(t.Context(), "a/k")
	if err != nil || !existed {
		t.Fatalf("Delete(existing) = %v, %v; want true, nil", existed, err)
	}
	wantGet(t, b, "a/k", nil)
	wantGet(t, b, "a/other", []byte("w"))
	if got := sortedKeys(list(t, b, "")); !slices.Equal(got, []string{"a/other"}) {
		t.Fatalf("List after Delete = %v", got)
	}
	existed, err = b.Delete(t.Context(), "a/k")
	if err != nil || existed {
		t.Fatalf("second Delete = %v, %v; want false, nil", existed, err)
	}
	// A deleted key can be written again.
	mustSet(t, b, "a/k", []byte("again"))
	wantGet(t, b, "a/k", []byte("again"))
}

func blobDeleteMissing(t *testing.T, b location.Blob) {
	for _, k := range []string{"missing", "no/such/dir/key"} {
		existed, err := b.Delete(t.Context(), k)
		if err != nil || existed {
			t.Fatalf("Delete(%q) = %v, %v; want false, nil", k, existed, err)
		}
	}
	// A key that only prefixes others ("d" of "d/x", a directory to a
	// store of files) is missing too, before and after they go, and
	// deleting it leaves them.
	mustSet(t, b, "d/x", []byte("v"))
	for range 2 {
		existed, err := b.Delete(t.Context(), "d")
		if err != nil || existed {
			t.Fatalf("Delete(\"d\") with d/x stored = %v, %v; want false, nil", existed, err)
		}
		wantGet(t, b, "d/x", []byte("v"))
	}
	if existed, err := b.Delete(t.Context(), "d/x"); err != nil || !existed {
		t.Fatalf("Delete(\"d/x\") = %v, %v; want true, nil", existed, err)
	}
	existed, err := b.Delete(t.Context(), "d")
	if err != nil || existed {
		t.Fatalf("Delete(\"d\") after d/x went = %v, %v; want false, nil", existed, err)
	}
	mustSet(t, b, "d/y", []byte("w"))
	wantGet(t, b, "d/y", []byte("w"))
}

func blobList(t *testing.T, b location.Blob) {
	if m := list(t, b, ""); len(m) != 0 {
		t.Fatalf("List on an empty store = %v", sortedKeys(m))
	}
	want := map[string]int{"a": 1, "b/c": 22, "b/d/e": 333, "x.y_z-0": 0}
	for k, n := range want {
		mustSet(t, b, k, bytes.Repeat([]byte{'v'}, n))
	}
	m := list(t, b, "")
	if got := sortedKeys(m); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("List = %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
	for k, n := range want {
		if m[k].Key != k || m[k].Size != int64(n) {
			t.Errorf("List: %q has %+v, want size %d", k, m[k], n)
		}
		// Age-based cleanup relies on ModTime being the time of the write.
		if age := time.Since(m[k].ModTime); age < -time.Hour || age > time.Hour {
			t.Errorf("List: %q has ModTime %v, %v from now; want the time it was written", k, m[k].ModTime, age)
		}
	}
}

func blobListPrefix(t *testing.T, b location.Blob) {
	for _, k := range []string{"a/1", "a/2", "ab", "b/1", "a/b/3"} {
		mustSet(t, b, k, []byte(k))
	}
	for prefix, want := range map[string][]string{
		"":     {"a/1", "a/2", "a/b/3", "ab", "b/1"},
		"a":    {"a/1", "a/2", "a/b/3", "ab"},
		"a/":   {"a/1", "a/2", "a/b/3"},
		"a/b":  {"a/b/3"},
		"a/1":  {"a/1"},
		"b/":   {"b/1"},
		"zzz":  nil,
		"a/1x": nil,
	} {
		if got := sortedKeys(list(t, b, prefix)); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %v, want %v", prefix, got, want)
		}
	}
}

func blobListStopsOnError(t *testing.T, b location.Blob) {
	for i := range 5 {
		mustSet(t, b, fmt.Sprintf("k%d", i), []byte("v"))
	}
	stop := errors.New("stop here")
	calls := 0
	err := b.List(t.Context(), "", func(location.BlobMeta) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("List returned %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Fatalf("List called fn %d times after it returned an error, want 1", calls)
	}
}

func blobLargeValues(t *testing.T, b location.Blob) {
	const size = 3<<20 + 17 // a bit over 3 MiB: several buffers' worth
	vals := map[string][]byte{}
	for i := range 3 {
		v := make([]byte, size+i)
		for j := range v {
			v[j] = byte(j*7 + i)
		}
		k := fmt.Sprintf("large/%d", i)
		vals[k] = v
		mustSet(t, b, k, v)
	}
	m := list(t, b, "large/")
	for k, v := range vals {
		if m[k].Size != int64(len(v)) {
			t.Errorf("List: %q size %d, want %d", k, m[k].Size, len(v))
		}
		wantGet(t, b, k, v)
	}
}

func blobValueIsolation(t *testing.T, b location.Blob) {
	v := []byte("original")
	mustSet(t, b, "k", v)
	copy(v, "XXXXXXXX")
	wantGet(t, b, "k", []byte("original"))
	got, _, err := b.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	copy(got, "YYYYYYYY")
	wantGet(t, b, "k", []byte("original"))
}

func blobCancelledContext(t *testing.T, b location.Blob) {
	mustSet(t, b, "k", []byte("v"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := b.Get(ctx, "k"); err == nil {
		t.Errorf("Get with a cancelled context: no error")
	}
	if err := b.Set(ctx, "k2", []byte("v")); err == nil {
		t.Errorf("Set with a cancelled context: no error")
	}
	if err := b.List(ctx, "", func(location.BlobMeta) error { return nil }); err == nil {
		t.Errorf("List with a cancelled context: no error")
	}
	wantGet(t, b, "k", []byte("v"))
}

// blobConcurrentSetGet has writers overwrite one key with values that are
// each a single repeated byte while readers check that every value they see
// is whole: Set is atomic.
func blobConcurrentSetGet(t *testing.T, b location.Blob) {
	const writers, readers, rounds, size = 3, 3, 20, 64 << 10
	mustSet(t, b, "shared", bytes.Repeat([]byte{'0'}, size))
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				v := bytes.Repeat([]byte{byte('a' + (w*rounds+r)%26)}, size+w)
				if err := b.Set(t.Context(), "shared", v); err != nil {
					t.Errorf("writer %d: Set: %v", w, err)
					return
				}
				if err := b.Set(t.Context(), fmt.Sprintf("own/%d/%d", w, r), v); err != nil {
					t.Errorf("writer %d: Set own: %v", w, err)
					return
				}
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			for range rounds {
				v, ok, err := b.Get(t.Context(), "shared")
				if err != nil || !ok {
					t.Errorf("reader %d: Get = %v, %v", r, ok, err)
					return
				}
				if len(v) < size || len(v) >= size+writers || !bytes.Equal(v, bytes.Repeat(v[:1], len(v))) {
					t.Errorf("reader %d: torn value of %d bytes", r, len(v))
					return
				}
			}
		})
	}
	wg.Wait()
	if got := len(list(t, b, "own/")); got != writers*rounds {
		t.Fatalf("List(own/) = %d keys, want %d", got, writers*rounds)
	}
}
