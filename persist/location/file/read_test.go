package file

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/shardflow/shardflow/internal/testseed"
	"github.com/shardflow/shardflow/persist/location"
)

// A key read straight from its file is read from where fileblob wrote it:
// for random keys, plain and not, what Set wrote is what GetInto reads,
// what plainPath names, and what fileblob itself reads.
func TestPlainPathIsFileblobsPath(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	b, err := Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const alphabet = "abAB09-_./ %ü"
	fixed := []string{"s/p/w-1.parquet", "a..b", ".hidden", "x.attrs", "__0x41__", "a//b", "a/./b", "a/../b", "end/", "/lead", "ü", "a b", "-/BB../b", "x../y/z..", "a.../b"}
	plain := 0
	for _, key := range keysToTry(rng, 400, 12, alphabet, fixed) {
		value := []byte(key + "!")
		if err := b.Set(t.Context(), key, value); err != nil {
			continue // a key fileblob refuses, or a directory of another key
		}
		got, ok, err := b.GetInto(t.Context(), key, make([]byte, 0, 64))
		if err != nil || !ok || !bytes.Equal(got, value) {
			t.Fatalf("GetInto(%q) = %q, %v, %v; want %q", key, got, ok, err, value)
		}
		viaGC, ok, err := b.gc.GetInto(t.Context(), key, nil)
		if err != nil || !ok || !bytes.Equal(viaGC, value) {
			t.Fatalf("fileblob reads %q as %q, %v, %v", key, viaGC, ok, err)
		}
		path, isPlain := b.plainPath(key)
		if !isPlain {
			continue
		}
		plain++
		if onDisk, err := os.ReadFile(path); err != nil || !bytes.Equal(onDisk, value) {
			t.Fatalf("plainPath(%q) = %s holds %q, %v; fileblob wrote %q", key, path, onDisk, err, value)
		}
	}
	if plain < 20 {
		t.Fatalf("only %d plain keys: the direct read went untested", plain)
	}
}

// Missing keys, keys that are directories of other keys or below a file,
// empty values and reads after Close, read straight from files as fileblob
// reads them.
func TestPlainReadEdges(t *testing.T) {
	b, err := Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Set(t.Context(), "dir/k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(t.Context(), "empty", nil); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"missing", "dir", "nodir/k"} {
		if _, ok, err := b.GetInto(t.Context(), key, nil); ok || err != nil {
			t.Errorf("GetInto(%q) = %v, %v; want no value", key, ok, err)
		}
	}
	// Below a file: an error, as fileblob gives one (ENOTDIR).
	_, _, gcErr := b.gc.GetInto(t.Context(), "dir/k/deeper", nil)
	if _, ok, err := b.GetInto(t.Context(), "dir/k/deeper", nil); ok || err == nil || gcErr == nil {
		t.Errorf("GetInto below a file: %v, %v; fileblob: %v", ok, err, gcErr)
	}
	if v, ok, err := b.Get(t.Context(), "empty"); err != nil || !ok || v == nil || len(v) != 0 {
		t.Errorf("Get(empty) = %q (nil %v), %v, %v", v, v == nil, ok, err)
	}
	b.Close()
	if _, _, err := b.GetInto(t.Context(), "dir/k", nil); !errors.Is(err, location.ErrClosed) || location.IsIndeterminate(err) {
		t.Errorf("GetInto after Close: %v", err)
	}
}

// keysToTry returns the fixed keys, then random ones of 1 to maxRunes
// runes of alphabet: n keys in all.
func keysToTry(rng *rand.Rand, n, maxRunes int, alphabet string, fixed []string) []string {
	keys := slices.Clone(fixed)
	runes := []rune(alphabet)
	for len(keys) < n {
		k := make([]rune, 1+rng.IntN(maxRunes))
		for j := range k {
			k[j] = runes[rng.IntN(len(runes))]
		}
		keys = append(keys, string(k))
	}
	return keys
}

// FuzzPlainPath: for any key, what Set wrote is what GetInto reads, straight
// from the file plainPath names or through fileblob, and what fileblob
// itself reads. Each input gets a directory of its own, so keys never meet
// files of earlier inputs.
func FuzzPlainPath(f *testing.F) {
	for _, k := range []string{"s/p/w-1.parquet", "-/BB../b", "a..", "a/..b/c", "x/y..", "a.b/c", ".hidden/x", "__0x41__"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		b, err := Open(t.Context(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		value := []byte(key + "!")
		if err := b.Set(t.Context(), key, value); err != nil {
			return // a key fileblob refuses
		}
		got, ok, err := b.GetInto(t.Context(), key, nil)
		if err != nil || !ok || !bytes.Equal(got, value) {
			path, plain := b.plainPath(key)
			t.Fatalf("GetInto(%q) = %q, %v, %v; want %q (plain path %q, %v)", key, got, ok, err, value, path, plain)
		}
		viaGC, ok, err := b.gc.GetInto(t.Context(), key, nil)
		if err != nil || !ok || !bytes.Equal(viaGC, value) {
			t.Fatalf("fileblob reads %q as %q, %v, %v", key, viaGC, ok, err)
		}
	})
}
