package file_test

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/file"
	"github.com/shardflow/shardflow/persist/persisttest"
)

func open(t *testing.T, dir string) *file.Blob {
	t.Helper()
	b, err := file.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	persisttest.TestBlob(t, func(t *testing.T) location.Blob {
		return open(t, filepath.Join(t.TempDir(), "blobs"))
	})
}

func TestURL(t *testing.T) {
	for raw, want := range map[string]string{
		"file:///abs/blobs":          "/abs/blobs",
		"file://./rel":               "./rel",
		"file://localhost/abs/blobs": "/abs/blobs",
		"file://dir/blobs":           "dir/blobs",
		"file:rel/blobs":             "rel/blobs",
	} {
		u, _ := url.Parse(raw)
		if got, err := file.ParseURL(u); err != nil || got != want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"file://", "file:///x?metadata=skip", "s3://x", "file:///a#b",
		"file:///x?mode=rw", "file:///x?mode=ro&mode=ro", "file:///x?mode=ro;y=1"} {
		u, _ := url.Parse(raw)
		if _, err := file.ParseURL(u); err == nil {
			t.Errorf("ParseURL(%q) accepted", raw)
		}
	}
}

// A store opened read-only (mode=ro) creates nothing, not even a missing
// directory, which it reads as an empty store until a writer creates it;
// reads see what a writable handle wrote, and writes fail with ErrReadOnly
// and change nothing. (Before, the directory was created, and so it was by
// a read-only default location: TestDefaultLocationReadOnlyCreatesNothing.
// A first fix read a missing directory as empty for good, so a follower
// saw a blob written later as missing: TestReadCommandsCreateNothing.)
func TestReadOnly(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "blobs")
	ro, err := location.OpenBlob(ctx, location.PathURL("file", dir)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a read-only open created %s (stat: %v)", dir, err)
	}
	checkReadOnly(t, ro, "")
	w := open(t, dir)
	defer w.Close()
	if err := w.Set(ctx, "shard/part-1", []byte("data")); err != nil {
		t.Fatal(err)
	}
	checkReadOnly(t, ro, "data") // the directory has appeared
	if v, ok, err := w.Get(ctx, "shard/part-1"); err != nil || !ok || string(v) != "data" {
		t.Fatalf("after refused writes, Get = %q, %v, %v", v, ok, err)
	}
	ro2, err := file.OpenReadOnly(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ro2.(location.IntoGetter); !ok {
		t.Error("a read-only store reads into no caller's buffer")
	}
	checkReadOnly(t, ro2, "data")
	if err := ro2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ro2.Get(ctx, "shard/part-1"); !errors.Is(err, location.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := file.OpenReadOnly(ctx, filepath.Join(dir, "shard", "part-1")); err == nil {
		t.Error("OpenReadOnly of a file accepted")
	}
	dangling := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Join(t.TempDir(), "unmounted"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dangling, filepath.Join(dangling, "blob")} {
		if _, err := file.OpenReadOnly(ctx, p); err == nil {
			t.Errorf("OpenReadOnly of %s, at or below a symbolic link to nothing, accepted: it would read as an empty store", p)
		}
	}
}

// A read-only store opened before its directory exists holds what appears
// there to the rule of OpenReadOnly: what is no directory is an error on
// the next read, not an empty store. (Before, any path that did not stat
// as a directory read as empty.)
func TestReadOnlyPathAppearsAsNonDirectory(t *testing.T) {
	ctx := t.Context()
	for _, kind := range []string{"file", "dangling symlink"} {
		dir := filepath.Join(t.TempDir(), "blob")
		ro, err := file.OpenReadOnly(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		if kind == "file" {
			err = os.WriteFile(dir, []byte("x"), 0o644)
		} else {
			err = os.Symlink(filepath.Join(t.TempDir(), "unmounted"), dir)
		}
		if err != nil {
			t.Fatal(err)
		}
		if v, ok, err := ro.Get(ctx, "shard/part-1"); err == nil || location.IsIndeterminate(err) {
			t.Errorf("a %s at the path: Get = %q, %v, %v; want a determinate error", kind, v, ok, err)
		}
		if err := ro.List(ctx, "", func(location.BlobMeta) error { return nil }); err == nil {
			t.Errorf("a %s at the path: List listed nothing, without an error", kind)
		}
	}
}

// checkReadOnly checks that ro holds shard/part-1 with value want ("": no
// value) and nothing else, and refuses to write.
func checkReadOnly(t *testing.T, ro location.Blob, want string) {
	t.Helper()
	ctx := t.Context()
	v, ok, err := ro.Get(ctx, "shard/part-1")
	if err != nil || ok != (want != "") || string(v) != want {
		t.Errorf("Get = %q, %v, %v; want %q", v, ok, err, want)
	}
	if ex, isEx := ro.(location.Exister); !isEx {
		t.Error("a read-only store answers no Exists")
	} else if ok, err := ex.Exists(ctx, "shard/part-1"); err != nil || ok != (want != "") {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	var keys []string
	if err := ro.List(ctx, "", func(m location.BlobMeta) error { keys = append(keys, m.Key); return nil }); err != nil {
		t.Errorf("List: %v", err)
	}
	if (want == "" && len(keys) != 0) || (want != "" && (len(keys) != 1 || keys[0] != "shard/part-1")) {
		t.Errorf("List = %q", keys)
	}
	if err := ro.Set(ctx, "shard/part-2", []byte("x")); !errors.Is(err, location.ErrReadOnly) || location.IsIndeterminate(err) {
		t.Errorf("Set: %v, want a determinate ErrReadOnly", err)
	}
	if _, err := ro.Delete(ctx, "shard/part-1"); !errors.Is(err, location.ErrReadOnly) || location.IsIndeterminate(err) {
		t.Errorf("Delete: %v, want a determinate ErrReadOnly", err)
	}
}

// TestReopen writes through one handle opened by URL and reads through a
// second: the values are files in the directory.
func TestReopen(t *testing.T) {
	t.Chdir(t.TempDir())
	ctx := t.Context()
	b, err := location.OpenBlob(ctx, "file://./blobs")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "shard/part-1", []byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("blobs/shard/part-1"); err != nil || string(got) != "data" {
		t.Fatalf("file on disk = %q, %v", got, err)
	}
	b, err = location.OpenBlob(ctx, "file:blobs")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, ok, err := b.Get(ctx, "shard/part-1"); err != nil || !ok || string(v) != "data" {
		t.Fatalf("Get after reopen = %q, %v, %v", v, ok, err)
	}
}

// TestLeftovers: no sidecars are written; sidecars an older writer left are
// hidden from List; the temporary file of a writer that died mid-Set is
// listed with its real size and modification time.
func TestLeftovers(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	b := open(t, dir)
	defer b.Close()
	if err := b.Set(ctx, "s/new", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "s/new.attrs")); !os.IsNotExist(err) {
		t.Fatalf("a sidecar was written: %v", err)
	}
	// What older code and a dead writer left behind.
	old := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for name, content := range map[string]string{
		"s/old":                "old",
		"s/old.attrs":          `{"user.content_type":"application/octet-stream"}`,
		"s/p.18a2b3c4d5e6.tmp": "half a val",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]location.BlobMeta{}
	if err := b.List(ctx, "s/", func(m location.BlobMeta) error { got[m.Key] = m; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["s/old.attrs"]; ok || len(got) != 3 {
		t.Fatalf("List = %v, want s/new, s/old and the temporary file, no sidecar", got)
	}
	tmp, ok := got["s/p.18a2b3c4d5e6.tmp"]
	if !ok || tmp.Size != int64(len("half a val")) || !tmp.ModTime.Equal(old) {
		t.Fatalf("temporary file listed as %+v (listed %v), want size %d, ModTime %v", tmp, ok, len("half a val"), old)
	}
	if v, ok, err := b.Get(ctx, "s/old"); err != nil || !ok || string(v) != "old" {
		t.Fatalf("Get of a key with an old sidecar = %q, %v, %v", v, ok, err)
	}
	// The janitor can reap the leftover by its listed key.
	if existed, err := b.Delete(ctx, "s/p.18a2b3c4d5e6.tmp"); err != nil || !existed {
		t.Fatalf("Delete(temporary file) = %v, %v", existed, err)
	}
}

func BenchmarkSet(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			blob, err := file.Open(b.Context(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer blob.Close()
			persisttest.BenchmarkSet(b, blob, size)
		})
	}
}

// TestPathWithSpace: a directory with a space survives the URL.
func TestPathWithSpace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "with space")
	b, err := location.OpenBlob(t.Context(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Set(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "k")); err != nil {
		t.Fatalf("blob not where the URL says: %v", err)
	}
}
