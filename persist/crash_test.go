package persist

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

const crashDirEnv = "SHARDFLOW_PERSIST_CRASH_DIR"

// killBeforeCAS is a Consensus that kills its process (SIGKILL, no
// cleanup) at the first compare-and-set once armed.
type killBeforeCAS struct {
	location.Consensus
	armed bool
}

func (k *killBeforeCAS) CompareAndSet(ctx context.Context, key string, expected *location.SeqNo, next location.VersionedData) (location.CaSResult, error) {
	if k.armed {
		// Kill is SIGKILL where there are signals: no deferred call,
		// no cleanup, as in a crash.
		p, err := os.FindProcess(os.Getpid())
		if err == nil {
			err = p.Kill()
		}
		if err != nil {
			panic(err) // dies all the same, if less abruptly
		}
		select {} // the kill is on its way
	}
	return k.Consensus.CompareAndSet(ctx, key, expected, next)
}

// crashChild runs the crash test's child process when the test binary is
// re-executed for it, and reports whether it did (it never returns when it
// does: it dies).
func crashChild() bool {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return false
	}
	ctx := context.Background()
	loc, err := DefaultLocation(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	k := &killBeforeCAS{Consensus: loc.Consensus}
	c := NewClient(Location{Blob: loc.Blob, Consensus: k}, ClientOptions{PartTargetSize: 64, InlineWriteMaxBytes: -1, MergeFanIn: -1})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := w.CompareAndAppend(ctx, []Update{up("child", "acked", 1, 1)}, ts(1), ts(2)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("acked [1, 2)")
	k.armed = true
	var us []Update
	for i := range 20 {
		us = append(us, up(fmt.Sprintf("lost%02d", i), "never acked", 2, 1))
	}
	w.CompareAndAppend(ctx, us, ts(2), ts(3))
	os.Exit(3) // not reached
	return true
}

// A writer process killed between writing its parts and committing them
// loses nothing that was acknowledged; the janitor reclaims its orphans once
// they are older than the minimum age, and the shard stays writable.
func TestCrashBetweenPartsAndCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	ctx := context.Background()
	dir := t.TempDir()
	loc, err := DefaultLocation(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	clk := newManualClock()
	clk.t = time.Now()
	c := NewClient(loc, ClientOptions{Clock: clk, BlobClock: clk, InlineWriteMaxBytes: -1, MergeFanIn: -1})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, []Update{up("parent", "acked", 0, 1)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.Output()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v, output %q", err, out)
	}
	if string(out) != "acked [1, 2)\n" {
		t.Fatalf("child output %q", out)
	}

	// A fresh client rebuilds the shard from consensus alone.
	// clk starts at the wall clock that stamps the file blobs' ModTime and
	// stands in for it: advancing it ages them.
	fresh := NewClient(loc, ClientOptions{Clock: clk, BlobClock: clk, InlineWriteMaxBytes: -1, MergeFanIn: -1})
	st, err := fresh.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Upper.Equal(ts(2)) {
		t.Fatalf("upper %v after the crash, want [2]", st.Upper)
	}
	r, err := fresh.OpenReader(ctx, "s", "after-crash")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := r.Snapshot(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fetchAll(ctx, fresh, parts)
	if err != nil {
		t.Fatal(err)
	}
	if want := (contents{{"parent", "acked", 1}: 1, {"child", "acked", 1}: 1}); !equalContents(got, want) {
		t.Fatalf("after the crash: got %v want %v", got, want)
	}
	// A blob writer that died mid-write leaves a temporary file beside its
	// key; the janitor reaps it by age like any orphan.
	if err := os.WriteFile(filepath.Join(dir, "blob", "s", "p", "dead.parquet.5f3a.tmp"), []byte("half a part"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := blobCount(t, loc.Blob, "s/")
	if before <= 2 {
		t.Fatalf("%d blobs: the child left no orphan parts to reap", before)
	}
	rep, err := fresh.Janitor(ctx, "s", time.Hour)
	if err != nil || rep.OrphansReaped != 0 {
		t.Fatalf("janitor reaped young blobs: %+v %v", rep, err)
	}
	clk.Advance(2 * time.Hour)
	rep, err = fresh.Janitor(ctx, "s", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OrphansReaped != before-2 || rep.TempReaped != 1 {
		t.Fatalf("janitor %+v, want %d orphans reaped", rep, before-2)
	}
	if v, err := fresh.Verify(ctx, "s"); err != nil || !v.OK() || v.Parts != 2 {
		t.Fatalf("verify after janitor: %+v %v", v, err)
	}
	w2, err := fresh.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.CompareAndAppend(ctx, []Update{up("after", "", 2, 1)}, ts(2), ts(3)); err != nil {
		t.Fatal(err)
	}
}
