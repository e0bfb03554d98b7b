package file

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shardflow/shardflow/internal/testseed"
	"github.com/shardflow/shardflow/persist/location"
)

// List goes on past entries that go away during its walk, a writer's
// temporary files renamed into place and keys another goroutine deletes,
// and lists each key present throughout once. (Through fileblob, whose
// walk fails on an entry gone before its lstat, a listing failed with
// "blob (code=NotFound): lstat .../s/p/churn-....tmp: no such file or
// directory" within the first few hundred, as a janitor's did beside a
// writer.)
func TestListWhileKeysComeAndGo(t *testing.T) {
	b, _ := openTest(t) // syncs recorded, not made: the writer churns fast
	stable := map[string]bool{}
	for i := range 40 {
		k := fmt.Sprintf("s/p/stable-%02d", i)
		if err := b.Set(t.Context(), k, []byte("v")); err != nil {
			t.Fatal(err)
		}
		stable[k] = true
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var churned atomic.Int64
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			if err := b.Set(ctx, fmt.Sprintf("s/p/churn-%06d", i), []byte("v")); err != nil {
				if ctx.Err() == nil {
					t.Errorf("Set: %v", err)
				}
				return
			}
			if i >= 4 {
				if _, err := b.Delete(ctx, fmt.Sprintf("s/p/churn-%06d", i-4)); err != nil && ctx.Err() == nil {
					t.Errorf("Delete: %v", err)
					return
				}
			}
			churned.Add(1)
		}
	})
	defer func() { cancel(); wg.Wait() }()
	lists := 0
	for ; lists < 300 || (churned.Load() < 3000 && lists < 20000); lists++ {
		got := map[string]int{}
		err := b.List(t.Context(), "s/", func(m location.BlobMeta) error { got[m.Key]++; return nil })
		if err != nil {
			t.Fatalf("listing %d, %d keys written beside it so far: %v", lists, churned.Load(), err)
		}
		for k := range stable {
			if got[k] != 1 {
				t.Fatalf("listing %d: %q listed %d times, want once", lists, k, got[k])
			}
		}
		for k, n := range got {
			if n != 1 {
				t.Fatalf("listing %d: %q listed %d times", lists, k, n)
			}
		}
	}
	t.Logf("%d listings beside %d writes", lists, churned.Load())
}

// List names every key by what fileblob stores it as: for random keys,
// among them ones fileblob escapes ("a//b", "x../y", "__0x41__", control
// characters), List lists for every prefix the keys of fileblob's whole
// listing with that prefix, and each listed key reads back its value.
func TestListUnescapesLikeFileblob(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	b, _ := openTest(t)
	const alphabet = "ab/._0x\x01 ü"
	fixed := []string{"s/p/w-1.parquet", "a//b", "x../y", "__0x41__", "a/__0x2f__/b", "end/", "c-z", "c/d", "a.../b", "a\x01b", "__0x__", "__0xzz__", "__0x7fffffff__"}
	values := map[string]string{}
	for _, key := range keysToTry(rng, 300, 10, alphabet, fixed) {
		if err := b.Set(t.Context(), key, []byte(key)); err != nil {
			continue // a key fileblob refuses, or a directory of another key
		}
		values[key] = key
	}
	prefixes := []string{"", "a", "a/", "s/p/", "_", "__0x", "x../", "c"}
	for k := range values {
		if len(prefixes) < 60 {
			prefixes = append(prefixes, k[:rng.IntN(len(k)+1)])
		}
	}
	for _, prefix := range prefixes {
		ours, theirs := map[string]bool{}, map[string]bool{}
		if err := b.List(t.Context(), prefix, func(m location.BlobMeta) error { ours[m.Key] = true; return nil }); err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		// fileblob's own prefixed listing misses keys below an escaped
		// directory (it starts its walk at "x.." for "x../", where
		// "x../y" is not): filter its whole listing.
		if err := b.gc.List(t.Context(), "", func(m location.BlobMeta) error {
			if strings.HasPrefix(m.Key, prefix) {
				theirs[m.Key] = true
			}
			return nil
		}); err != nil {
			t.Fatalf("fileblob's List(%q): %v", prefix, err)
		}
		if !maps.Equal(ours, theirs) {
			t.Fatalf("List(%q) = %q, fileblob lists %q", prefix, slices.Sorted(maps.Keys(ours)), slices.Sorted(maps.Keys(theirs)))
		}
		for k := range ours {
			v, ok, err := b.Get(t.Context(), k)
			if err != nil || !ok || string(v) != values[k] {
				t.Fatalf("List(%q) named %q, which reads %q, %v, %v; want %q", prefix, k, v, ok, err, values[k])
			}
		}
	}
}

// A key whose path fileblob would clean into another key's ("/x" is "x",
// "a/./b" is "a/b", "c/d/.." is "c") is refused by every call, as a
// determinate ErrInvalidBlobKey, and nothing is written. (Before, Set of
// "a/./b" overwrote "a/b", and Get of one read the other's value.)
func TestKeysThatAliasAreRefused(t *testing.T) {
	b, _ := openTest(t)
	ctx := t.Context()
	for _, k := range []string{"x", "a/b", "c"} {
		if err := b.Set(ctx, k, []byte("value of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, location.ErrInvalidBlobKey) || location.IsIndeterminate(err) {
			t.Errorf("%s: %v, want a determinate ErrInvalidBlobKey", what, err)
		}
	}
	for _, k := range []string{"", "/x", "/a/b", "a/./b", "./x", "a/b/.", "c/d/..", "..", "."} {
		refused(fmt.Sprintf("Set(%q)", k), b.Set(ctx, k, []byte("other")))
		_, _, err := b.Get(ctx, k)
		refused(fmt.Sprintf("Get(%q)", k), err)
		_, err = b.Exists(ctx, k)
		refused(fmt.Sprintf("Exists(%q)", k), err)
		_, err = b.Delete(ctx, k)
		refused(fmt.Sprintf("Delete(%q)", k), err)
	}
	for _, k := range []string{"x", "a/b", "c", "a../b", "a/../b", "a/b.."} {
		v, ok, err := b.Get(ctx, k)
		if want := "value of " + k; k == "x" || k == "a/b" || k == "c" {
			if err != nil || !ok || string(v) != want {
				t.Errorf("Get(%q) = %q, %v, %v after the refused calls; want %q", k, v, ok, err, want)
			}
		} else if err != nil || ok {
			t.Errorf("Get(%q) = %q, %v, %v: a key that names no other key's file", k, v, ok, err)
		}
	}
}
