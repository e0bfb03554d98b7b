package mem_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/mem"
	"github.com/shardflow/shardflow/persist/persisttest"
)

func TestBlobConformance(t *testing.T) {
	persisttest.TestBlob(t, func(t *testing.T) location.Blob { return mem.NewBlob() })
}

func TestConsensusConformance(t *testing.T) {
	persisttest.TestConsensus(t, func(t *testing.T) location.Consensus { return mem.NewConsensus() })
}

// storeCounter names stores uniquely: named stores outlive a test, and
// -count=N runs the tests again in the same process.
var storeCounter atomic.Int64

// TestURLConformance runs the suites through the registered scheme, one
// named store per subtest.
func TestURLConformance(t *testing.T) {
	persisttest.TestBlob(t, func(t *testing.T) location.Blob {
		b, err := location.OpenBlob(t.Context(), fmt.Sprintf("mem://blob-conformance-%d", storeCounter.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	persisttest.TestConsensus(t, func(t *testing.T) location.Consensus {
		c, err := location.OpenConsensus(t.Context(), fmt.Sprintf("mem://consensus-conformance-%d", storeCounter.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

func TestNamedStoresShared(t *testing.T) {
	ctx := t.Context()
	name := fmt.Sprintf("shared-test-%d", storeCounter.Add(1))
	b1, err := location.OpenBlob(ctx, "mem://"+name)
	if err != nil {
		t.Fatal(err)
	}
	if err := b1.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	// The same name reaches the same store, even after the first handle
	// closed; a different name or the empty name does not.
	// (mem://NAME/b is not mem://NAMEb: the slash was once dropped.)
	for url, want := range map[string]bool{"mem://" + name: true, "mem:" + name: true, "mem:///" + name: true,
		"mem://" + name + "-other": false, "mem://": false, "mem://" + name[:3] + "/" + name[3:]: false} {
		b, err := location.OpenBlob(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := b.Get(ctx, "k"); err != nil || ok != want {
			t.Errorf("%s: Get = %v, %v; want %v", url, ok, err, want)
		}
		b.Close()
	}
	c1, _ := location.OpenConsensus(ctx, "mem://"+name)
	c2, _ := location.OpenConsensus(ctx, "mem://"+name)
	defer c1.Close()
	defer c2.Close()
	if res, err := c1.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 1}); err != nil || res != location.Committed {
		t.Fatal(res, err)
	}
	if _, ok, err := c2.Head(ctx, "k"); err != nil || !ok {
		t.Fatalf("second handle does not see the first's write: %v, %v", ok, err)
	}
	if _, err := location.OpenBlob(ctx, "mem://x?y=z"); err == nil {
		t.Error("query parameters accepted")
	}
}

func TestClosedHandle(t *testing.T) {
	ctx := t.Context()
	b := mem.NewBlob()
	b.Close()
	if err := b.Set(ctx, "k", nil); !errors.Is(err, location.ErrClosed) || location.IsIndeterminate(err) {
		t.Errorf("Set after Close = %v, want determinate ErrClosed", err)
	}
	c := mem.NewConsensus()
	c.Close()
	if _, _, err := c.Head(ctx, "k"); !errors.Is(err, location.ErrClosed) || location.IsIndeterminate(err) {
		t.Errorf("Head after Close = %v, want determinate ErrClosed", err)
	}
}

// TestWatchAcrossHandles: a write through one handle wakes a watcher on
// another; notifications coalesce; cancel and Close end watches.
func TestWatchAcrossHandles(t *testing.T) {
	ctx := t.Context()
	name := fmt.Sprintf("watch-test-%d", storeCounter.Add(1))
	w := mem.OpenConsensus(name)
	c := mem.OpenConsensus(name)
	defer c.Close()
	notify, cancel, err := w.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	other, cancelOther, err := w.Watch(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	defer cancelOther()
	var expected *location.SeqNo
	for s := location.SeqNo(1); s <= 3; s++ {
		if res, err := c.CompareAndSet(ctx, "k", expected, location.VersionedData{SeqNo: s}); err != nil || res != location.Committed {
			t.Fatal(res, err)
		}
		expected = &s
	}
	select {
	case <-notify:
	default:
		t.Fatal("no notification after writes")
	}
	select {
	case <-notify:
		t.Fatal("three writes gave more than one pending notification")
	case <-other:
		t.Fatal("a write to k woke a watcher of another key")
	default:
	}
	cancel()
	next := *expected + 1
	c.CompareAndSet(ctx, "k", expected, location.VersionedData{SeqNo: next})
	select {
	case <-notify:
		t.Fatal("notification after cancel")
	default:
	}
	w.Close()
	c.CompareAndSet(ctx, "other", nil, location.VersionedData{SeqNo: 1})
	select {
	case <-other:
		t.Fatal("notification after the watching handle closed")
	default:
	}
}

func TestBlobClock(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := mem.NewBlobWithClock(func() time.Time { return now })
	defer b.Close()
	if err := b.Set(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	err := b.List(t.Context(), "", func(m location.BlobMeta) error {
		if !m.ModTime.Equal(now) {
			return fmt.Errorf("ModTime %v, want %v", m.ModTime, now)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func BenchmarkCompareAndSet(b *testing.B) {
	persisttest.BenchmarkCompareAndSet(b, mem.NewConsensus())
}
