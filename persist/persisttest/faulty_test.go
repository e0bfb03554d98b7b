package persisttest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/mem"
	"github.com/shardflow/shardflow/persist/persisttest"
)

// With no faults configured the wrappers are conforming stores.
func TestFaultyConformance(t *testing.T) {
	persisttest.TestBlob(t, func(t *testing.T) location.Blob {
		return persisttest.NewFaultyBlob(mem.NewBlob(), persisttest.NewFaults(1))
	})
	persisttest.TestConsensus(t, func(t *testing.T) location.Consensus {
		return persisttest.NewFaultyConsensus(mem.NewConsensus(), persisttest.NewFaults(1))
	})
	// WrapConsensus keeps the Watcher of mem, so the Watch test runs too.
	persisttest.TestConsensus(t, func(t *testing.T) location.Consensus {
		c := persisttest.WrapConsensus(mem.NewConsensus(), persisttest.NewFaults(1))
		if _, ok := c.(location.Watcher); !ok {
			t.Fatal("WrapConsensus dropped location.Watcher")
		}
		return c
	})
}

func TestScriptedConsensusFaults(t *testing.T) {
	ctx := t.Context()
	f := persisttest.NewFaults(1)
	c := persisttest.NewFaultyConsensus(mem.NewConsensus(), f)
	defer c.Close()
	v1 := location.VersionedData{SeqNo: 1, Data: []byte("v1")}

	// A determinate fault: the write did not happen.
	f.FailNext(persisttest.OpConsensusCAS, persisttest.Determinate)
	_, err := c.CompareAndSet(ctx, "k", nil, v1)
	if !errors.Is(err, persisttest.ErrInjected) || location.IsIndeterminate(err) {
		t.Fatalf("determinate fault: %v", err)
	}
	if _, ok, _ := c.Head(ctx, "k"); ok {
		t.Fatal("a determinate fault applied the write")
	}

	// An indeterminate fault that lost the request.
	f.FailNext(persisttest.AnyOp, persisttest.IndeterminateLost)
	if _, err := c.CompareAndSet(ctx, "k", nil, v1); !location.IsIndeterminate(err) {
		t.Fatalf("indeterminate fault: %v", err)
	}
	if _, ok, _ := c.Head(ctx, "k"); ok {
		t.Fatal("a lost request applied the write")
	}

	// An indeterminate fault that lost the reply: the write happened.
	f.FailNext(persisttest.OpConsensusCAS, persisttest.IndeterminateApplied)
	if _, err := c.CompareAndSet(ctx, "k", nil, v1); !location.IsIndeterminate(err) {
		t.Fatalf("indeterminate fault: %v", err)
	}
	if h, ok, _ := c.Head(ctx, "k"); !ok || h.SeqNo != 1 {
		t.Fatal("a lost reply did not apply the write")
	}

	// Scripted faults target their op only.
	f.FailNext(persisttest.OpConsensusTruncate, persisttest.Determinate)
	if _, _, err := c.Head(ctx, "k"); err != nil {
		t.Fatalf("Head hit a fault scripted for Truncate: %v", err)
	}
	if _, err := c.Truncate(ctx, "k", 1); err == nil {
		t.Fatal("Truncate missed its scripted fault")
	}
	for kind, want := range map[persisttest.FaultKind]int{persisttest.Determinate: 2, persisttest.IndeterminateLost: 1, persisttest.IndeterminateApplied: 1} {
		if got := f.Injected(kind); got != want {
			t.Errorf("Injected(%v) = %d, want %d", kind, got, want)
		}
	}
}

func TestScriptedBlobFaults(t *testing.T) {
	ctx := t.Context()
	f := persisttest.NewFaults(1)
	b := persisttest.NewFaultyBlob(mem.NewBlob(), f)
	defer b.Close()
	f.FailNext(persisttest.OpBlobSet, persisttest.Determinate)
	if err := b.Set(ctx, "k", []byte("v")); !errors.Is(err, persisttest.ErrInjected) {
		t.Fatalf("Set: %v", err)
	}
	if _, ok, _ := b.Get(ctx, "k"); ok {
		t.Fatal("a determinate Set fault stored the value")
	}
	f.FailNext(persisttest.OpBlobSet, persisttest.IndeterminateApplied)
	if err := b.Set(ctx, "k", []byte("v")); !location.IsIndeterminate(err) {
		t.Fatalf("Set: %v", err)
	}
	f.FailNext(persisttest.OpBlobGet, persisttest.Determinate)
	if v, ok, err := b.Get(ctx, "k"); err == nil || ok || v != nil {
		t.Fatalf("faulted Get = %q, %v, %v", v, ok, err)
	}
	if _, ok, _ := b.Get(ctx, "k"); !ok {
		t.Fatal("a lost Set reply did not store the value")
	}
}

// TestRandomFaults: with rates set, about the configured share of operations
// fail, deterministically for a seed, and the store stays consistent.
func TestRandomFaults(t *testing.T) {
	const seed, ops = 42, 2000
	t.Logf("seed %d", seed)
	run := func() (failed int, head location.SeqNo) {
		f := persisttest.NewFaults(seed)
		f.SetRates(0.1, 0.1)
		c := persisttest.NewFaultyConsensus(mem.NewConsensus(), f)
		defer c.Close()
		var expected *location.SeqNo
		for i := range ops {
			next := location.SeqNo(i + 1)
			if expected != nil {
				next = *expected + 1
			}
			res, err := c.CompareAndSet(t.Context(), "k", expected, location.VersionedData{SeqNo: next})
			switch {
			case err != nil:
				failed++
				// Learn the truth from an unfaulted read.
				h, ok, _ := c.Unwrap().Head(t.Context(), "k")
				if ok {
					expected = &h.SeqNo
				}
			case res == location.Committed:
				expected = &next
			default:
				t.Fatalf("op %d: unexpected mismatch", i)
			}
		}
		return failed, *expected
	}
	failed, head := run()
	if failed < ops/10 || failed > ops*3/10 {
		t.Errorf("%d of %d operations failed at a 20%% fault rate", failed, ops)
	}
	if f2, h2 := run(); f2 != failed || h2 != head {
		t.Errorf("same seed, different run: %d/%d vs %d/%d", failed, head, f2, h2)
	}
}

// TestLatency uses an injected sleep: every op waits out the latency, and a
// context that ends during the wait fails the op determinately.
func TestLatency(t *testing.T) {
	f := persisttest.NewFaults(1)
	var slept []time.Duration
	f.SetSleep(func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return ctx.Err()
	})
	f.SetLatency(5 * time.Millisecond)
	b := persisttest.NewFaultyBlob(mem.NewBlob(), f)
	defer b.Close()
	if err := b.Set(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 2 || slept[0] != 5*time.Millisecond {
		t.Fatalf("slept %v, want two 5ms waits", slept)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.Set(ctx, "k2", []byte("v")); err == nil || location.IsIndeterminate(err) {
		t.Fatalf("Set with a context ended during latency = %v, want determinate", err)
	}
}

func TestCorruptGet(t *testing.T) {
	ctx := t.Context()
	f := persisttest.NewFaults(1)
	b := persisttest.NewFaultyBlob(mem.NewBlob(), f)
	defer b.Close()
	b.Set(ctx, "k", []byte("checksummed"))
	b.Set(ctx, "empty", nil)
	f.FailNext(persisttest.OpBlobGet, persisttest.Corrupt)
	f.FailNext(persisttest.OpBlobGet, persisttest.Corrupt)
	for key, orig := range map[string]string{"k": "checksummed", "empty": ""} {
		v, ok, err := b.Get(ctx, key)
		if err != nil || !ok || string(v) == orig {
			t.Fatalf("corrupted Get(%s) = %q, %v, %v; want a different value", key, v, ok, err)
		}
	}
	if v, _, _ := b.Get(ctx, "k"); string(v) != "checksummed" {
		t.Fatalf("the stored value changed: %q", v)
	}
}

func TestOpRates(t *testing.T) {
	ctx := t.Context()
	f := persisttest.NewFaults(3)
	f.SetOpRates(persisttest.OpBlobGet, 1, 0) // every Get fails, nothing else
	b := persisttest.NewFaultyBlob(mem.NewBlob(), f)
	defer b.Close()
	for range 20 {
		if err := b.Set(ctx, "k", []byte("v")); err != nil {
			t.Fatalf("Set failed with faults only on Get: %v", err)
		}
		if _, _, err := b.Get(ctx, "k"); err == nil || location.IsIndeterminate(err) {
			t.Fatalf("Get = %v, want a determinate fault", err)
		}
	}
}
