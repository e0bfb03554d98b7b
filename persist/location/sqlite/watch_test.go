package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

// TestWatchSeesOtherHandlesCommits: a commit through one handle (another
// process, as far as the file is concerned) wakes a watcher of another, and
// a cancelled watch stays quiet.
func TestWatchSeesOtherHandlesCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	watching, writing := open(t, path), open(t, path)
	defer watching.Close()
	defer writing.Close()
	ctx := t.Context()
	notify, cancel, err := watching.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	quiet, cancelQuiet, err := watching.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	cancelQuiet()
	cancelQuiet() // twice is harmless
	var expected *location.SeqNo
	for i := range 3 {
		seq := location.SeqNo(i + 1)
		if _, err := writing.CompareAndSet(ctx, "k", expected, location.VersionedData{SeqNo: seq, Data: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		expected = &seq
		select {
		case <-notify:
		case <-time.After(10 * time.Second):
			t.Fatalf("commit %d: no notification within 10s", seq)
		}
	}
	cancel()
	select {
	case <-quiet:
		t.Fatal("a cancelled watch was notified")
	default:
	}
}

// TestWatchAfterClose: a closed handle refuses new watches, and closing
// stops the event loop (goleak in TestMain checks).
func TestWatchAfterClose(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "consensus.db"))
	if _, _, err := c.Watch(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Watch(t.Context(), "k"); err == nil {
		t.Fatal("watch on a closed handle succeeded")
	}
}
