package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
	_ "github.com/shardflow/shardflow/persist/location/postgres"
	"github.com/shardflow/shardflow/persist/location/postgres/pgtest"
	_ "github.com/shardflow/shardflow/persist/location/s3"
)

// The crash child's role and the location it writes to.
const (
	crashChildRole = "crash-writer"
	blobURLEnv     = "SHARDFLOW_TESTS_BLOB"
	consensusEnv   = "SHARDFLOW_TESTS_CONSENSUS"
	shardEnv       = "SHARDFLOW_TESTS_SHARD"
)

// The crash child's progress lines.
const (
	lineAcked       = "acked [1, 2)"
	linePartWritten = "part written"
)

// stallAfterSet is a Blob that, once armed, lets one Set through, reports
// it on standard output and then never returns from it; the Sets after it
// wait for it forever, so no request is in flight when the parent kills the
// process there, before the writer reaches its compare-and-set.
type stallAfterSet struct {
	location.Blob
	armed bool
	one   sync.Mutex
}

func (s *stallAfterSet) Set(ctx context.Context, key string, value []byte) error {
	if !s.armed {
		return s.Blob.Set(ctx, key, value)
	}
	s.one.Lock() // never unlocked
	if err := s.Blob.Set(ctx, key, value); err != nil {
		fmt.Fprintf(os.Stderr, "the armed Set failed: %v\n", err)
		os.Exit(2)
	}
	fmt.Println(linePartWritten)
	select {} // until SIGKILL
}

// crashChild writes one acknowledged batch, then a second whose parts reach
// the blob store but whose commit never happens. It returns an exit status
// only on failure: on success it is killed.
func crashChild() int {
	ctx := context.Background()
	loc, err := persist.OpenLocation(ctx, os.Getenv(blobURLEnv), os.Getenv(consensusEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	stall := &stallAfterSet{Blob: loc.Blob}
	c := persist.NewClient(persist.Location{Blob: stall, Consensus: loc.Consensus}, persist.ClientOptions{PartTargetSize: 64, InlineWriteMaxBytes: -1})
	w, err := c.OpenWriter(ctx, persist.ShardID(os.Getenv(shardEnv)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := w.CompareAndAppend(ctx, []persist.Update{upd("child", "acked", 1)}, ts(1), ts(2)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(lineAcked)
	stall.armed = true
	var us []persist.Update
	for i := range 40 {
		us = append(us, upd(fmt.Sprintf("lost%02d", i), "never acked", 2))
	}
	err = w.CompareAndAppend(ctx, us, ts(2), ts(3))
	fmt.Fprintf(os.Stderr, "the stalled append returned: %v\n", err)
	return 3
}

func upd(key, val string, t frontier.Time) persist.Update {
	return persist.Update{Key: []byte(key), Val: []byte(val), Time: t, Diff: 1}
}

func ts(t frontier.Time) persist.Frontier { return frontier.From(t) }

// clockAt is a persist.Clock that reads the wall clock shifted by an offset.
type clockAt struct{ offset time.Duration }

func (c clockAt) Now() time.Time { return time.Now().Add(c.offset) }

// TestKillWriterBeforeCommit: a writer process SIGKILLed from outside after
// its parts reached S3 but before its compare-and-set in PostgreSQL loses
// nothing that was acknowledged; its parts are orphans that the janitor
// leaves while young and reaps once old, without touching a referenced
// part; and the shard stays writable.
func TestKillWriterBeforeCommit(t *testing.T) {
	pgURL := pgtest.NewDatabase(t)
	s3URL := newFakeS3(t).bucketURL(t)
	const shard = "crash"
	ctx := t.Context()
	loc, err := persist.OpenLocation(ctx, s3URL, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	c := persist.NewClient(loc, persist.ClientOptions{InlineWriteMaxBytes: -1})
	w, err := c.OpenWriter(ctx, shard)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CompareAndAppend(ctx, []persist.Update{upd("parent", "acked", 0)}, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+crashChildRole, blobURLEnv+"="+s3URL, consensusEnv+"="+pgURL, shardEnv+"="+shard)
	out, stderr := startChild(t, child)
	for _, want := range []string{lineAcked, linePartWritten} {
		if got, err := out.next(visibleDeadline); got != want {
			t.Fatalf("child printed %q (%v), want %q\nstderr: %s", got, err, want, stderr)
		}
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	out.wait()
	child.Wait()
	if ws := child.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\nstderr: %s", child.ProcessState, stderr)
	}

	// A fresh client rebuilds the shard from consensus alone.
	fresh := persist.NewClient(loc, persist.ClientOptions{})
	st, err := fresh.State(ctx, shard)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Upper.Equal(ts(2)) {
		t.Fatalf("upper %v after the crash, want [2]", st.Upper)
	}
	if got, want := snapshot(t, fresh, shard, 1), []string{"child=acked@1x1", "parent=acked@1x1"}; !slices.Equal(got, want) {
		t.Fatalf("after the crash: got %v want %v", got, want)
	}

	referenced := map[string]bool{}
	for _, b := range st.Batches {
		for _, p := range b.Parts {
			referenced[p.Key] = true
		}
	}
	listed := listBlobs(t, loc.Blob, shard+"/")
	var orphans int
	for _, k := range listed {
		if !referenced[k] {
			orphans++
		}
	}
	if len(referenced) != 2 || orphans != 1 {
		t.Fatalf("%d referenced parts, %d orphans among %v: want 2 and the child's 1", len(referenced), orphans, listed)
	}

	rep, err := fresh.Janitor(ctx, shard, time.Hour)
	if err != nil || rep.OrphansReaped != 0 {
		t.Fatalf("janitor reaped young blobs: %+v %v", rep, err)
	}
	// Two hours on by the blob store's clock, the orphans are old.
	later := persist.NewClient(loc, persist.ClientOptions{BlobClock: clockAt{2 * time.Hour}})
	rep, err = later.Janitor(ctx, shard, time.Hour)
	if err != nil || rep.OrphansReaped != orphans {
		t.Fatalf("janitor %+v %v, want %d orphans reaped", rep, err, orphans)
	}
	left := listBlobs(t, loc.Blob, shard+"/")
	if len(left) != len(referenced) {
		t.Fatalf("after the janitor: %v, want only the referenced %v", left, referenced)
	}
	for _, k := range left {
		if !referenced[k] {
			t.Fatalf("after the janitor: orphan %s left", k)
		}
	}
	if v, err := fresh.Verify(ctx, shard); err != nil || !v.OK() || v.Parts != 2 {
		t.Fatalf("verify after the janitor: %+v %v", v, err)
	}
	w2, err := fresh.OpenWriter(ctx, shard)
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.CompareAndAppend(ctx, []persist.Update{upd("after", "", 2)}, ts(2), ts(3)); err != nil {
		t.Fatal(err)
	}
	if got, want := snapshot(t, fresh, shard, 2), []string{"after=@2x1", "child=acked@2x1", "parent=acked@2x1"}; !slices.Equal(got, want) {
		t.Fatalf("after a write past the crash: got %v want %v", got, want)
	}
}

// snapshot returns the shard's updates as of asOf as sorted
// "key=val@time x diff" strings, its reader expired afterwards.
func snapshot(t *testing.T, c *persist.Client, shard persist.ShardID, asOf frontier.Time) []string {
	t.Helper()
	ctx := t.Context()
	r, err := c.OpenReader(ctx, shard, "tests: snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Expire(context.WithoutCancel(ctx))
	parts, err := r.Snapshot(ctx, asOf)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range parts {
		f, err := c.FetchLeased(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Len() {
			out = append(out, fmt.Sprintf("%s=%s@%vx%d", f.Key(i), f.Val(i), f.Time(i), f.Diff(i)))
		}
		f.Release()
		p.Lease.Release()
	}
	slices.Sort(out)
	return out
}

// listBlobs returns the keys under prefix, sorted.
func listBlobs(t *testing.T, b location.Blob, prefix string) []string {
	t.Helper()
	var keys []string
	if err := b.List(t.Context(), prefix, func(m location.BlobMeta) error {
		keys = append(keys, m.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}
