package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
)

// recorder replaces the sync seams and records, for each call, what it
// synced and whether the key's final file existed at that moment.
type recorder struct {
	mu     sync.Mutex
	final  string // path of the key being written
	events []string
	fail   map[string]error // "file" or "dir" -> injected error
}

func (r *recorder) install(b *Blob) {
	b.syncFile = func(f *os.File) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, fmt.Sprintf("file %s final-exists=%v", rel(b, f.Name()), exists(r.final)))
		return r.fail["file"]
	}
	b.syncDir = func(dir string) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, fmt.Sprintf("dir %s final-exists=%v", rel(b, dir), exists(r.final)))
		return r.fail["dir"]
	}
}

func rel(b *Blob, path string) string {
	r, err := filepath.Rel(filepath.Dir(b.root), path)
	if err != nil {
		panic(err)
	}
	return r
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func openTest(t *testing.T) (*Blob, *recorder) {
	b, err := Open(t.Context(), filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r := &recorder{}
	r.install(b)
	return b, r
}

// TestSetSyncsBeforeReturning: the temporary file is synced before the
// rename makes it visible, then its directory and each directory the write
// created, before Set returns.
func TestSetSyncsBeforeReturning(t *testing.T) {
	b, r := openTest(t)
	r.final = filepath.Join(b.root, "a/b/k")
	if err := b.Set(t.Context(), "a/b/k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if len(r.events) != 4 || !strings.HasPrefix(r.events[0], "file root/a/b/k.") || !strings.HasSuffix(r.events[0], ".tmp final-exists=false") {
		t.Fatalf("events = %q, want the temporary file synced first, before the rename", r.events)
	}
	want := []string{"dir root/a/b final-exists=true", "dir root/a final-exists=true", "dir root final-exists=true"}
	if !slices.Equal(r.events[1:], want) {
		t.Fatalf("directory syncs = %q, want %q", r.events[1:], want)
	}
	// The directories are now known durable: a second write in the same
	// directory syncs only that directory.
	r.events, r.final = nil, filepath.Join(b.root, "a/b/k2")
	if err := b.Set(t.Context(), "a/b/k2", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if len(r.events) != 2 || r.events[1] != "dir root/a/b final-exists=true" {
		t.Fatalf("second write events = %q", r.events)
	}
}

// TestSyncFailures: a failed file sync abandons the write determinately
// (nothing visible, no temporary file left); a failed directory sync after
// the rename is indeterminate.
func TestSyncFailures(t *testing.T) {
	b, r := openTest(t)
	boom := errors.New("disk on fire")
	r.fail = map[string]error{"file": boom}
	err := b.Set(t.Context(), "k", []byte("v"))
	if !errors.Is(err, boom) || location.IsIndeterminate(err) {
		t.Fatalf("Set with a failing file sync = %v, want determinate", err)
	}
	entries, _ := os.ReadDir(b.root)
	if len(entries) != 0 {
		t.Fatalf("a determinate failure left files: %v", entries)
	}
	r.fail = map[string]error{"dir": boom}
	err = b.Set(t.Context(), "k", []byte("v"))
	if !errors.Is(err, boom) || !location.IsIndeterminate(err) {
		t.Fatalf("Set with a failing directory sync = %v, want indeterminate", err)
	}
	if v, ok, _ := b.Get(t.Context(), "k"); !ok || string(v) != "v" {
		t.Fatal("the value is not visible after the rename")
	}
}

// TestSetCancelledBeforeRenameIsDeterminate: a Set whose context ends
// after its bytes are written and synced, and before the rename, stores
// nothing and says so: determinate. (fileblob removed the temporary file
// and gcblob called its context error indeterminate.) One cancelled before
// Set starts writes nothing either.
func TestSetCancelledBeforeRenameIsDeterminate(t *testing.T) {
	b, err := Open(t.Context(), filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(t.Context())
	b.syncFile = func(f *os.File) error {
		cancel()
		return f.Sync()
	}
	err = b.Set(ctx, "a/k", []byte("v"))
	if !errors.Is(err, context.Canceled) || location.IsIndeterminate(err) {
		t.Fatalf("Set cancelled before its rename = %v, want a determinate context.Canceled", err)
	}
	err = b.Set(ctx, "a/k2", []byte("v"))
	if !errors.Is(err, context.Canceled) || location.IsIndeterminate(err) {
		t.Fatalf("Set with an ended context = %v, want a determinate context.Canceled", err)
	}
	var left []string
	err = filepath.WalkDir(b.root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("files left: %v", left)
	}
}

// A directory removed (from outside, say) and made again by a later Set is
// a new entry in its parent: its parent is synced again, though the path
// was known durable. (Fails without the identity check in syncParents.)
func TestSetSyncsADirectoryMadeAgain(t *testing.T) {
	b, r := openTest(t)
	if err := b.Set(t.Context(), "a/x", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(b.root, "a")); err != nil {
		t.Fatal(err)
	}
	r.events, r.final = nil, filepath.Join(b.root, "a/y")
	if err := b.Set(t.Context(), "a/y", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.events, "dir root final-exists=true") {
		t.Fatalf("Set(a/y) made directory a again but did not sync the root: events %q", r.events)
	}
}

// List calls fn for every key however many there are. fileblob pages in
// key order but walks directories in file-name order: the file "c-z" comes
// after the directory "c", though its key sorts before "c/...". Resuming a
// second page after the first's last key skipped it. (Failed when List
// paged through fileblob: "c-z" listed 0 times.)
func TestListPastAPage(t *testing.T) {
	b, _ := openTest(t) // syncs recorded, not made: 1002 writes stay fast
	want := map[string]bool{"c-z": true}
	for i := range 1001 {
		want[fmt.Sprintf("c/%04d", i)] = true
	}
	for k := range want {
		if err := b.Set(t.Context(), k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"", "c"} {
		got := map[string]int{}
		if err := b.List(t.Context(), prefix, func(m location.BlobMeta) error { got[m.Key]++; return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("List(%q) listed %d keys, want %d", prefix, len(got), len(want))
		}
		for k := range want {
			if got[k] != 1 {
				t.Errorf("List(%q): %q listed %d times, want once", prefix, k, got[k])
			}
		}
	}
}
