package gcblob_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/gcblob"
	"github.com/shardflow/shardflow/persist/persisttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	persisttest.TestBlob(t, func(t *testing.T) location.Blob {
		return gcblob.New(memblob.OpenBucket(nil), "mem")
	})
}

func TestOpenURL(t *testing.T) {
	b, err := gcblob.Open(t.Context(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Set(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(t.Context(), "k"); !errors.Is(err, location.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	if _, err := gcblob.Open(t.Context(), "nosuchscheme://x"); err == nil {
		t.Fatal("opened an unknown gocloud scheme")
	}
}

func TestClassifyWrite(t *testing.T) {
	b := gcblob.New(memblob.OpenBucket(nil), "mem")
	defer b.Close()
	// gocloud refuses a key that is not valid UTF-8 before any I/O: the
	// write definitely did not happen.
	err := b.Set(t.Context(), "bad\xffkey", []byte("v"))
	if err == nil || location.IsIndeterminate(err) || gcerrors.Code(err) != gcerrors.InvalidArgument {
		t.Fatalf("Set(invalid key) = %v (code %v), want determinate InvalidArgument", err, gcerrors.Code(err))
	}
	// A timeout or an uncoded failure may have happened.
	for _, cause := range []error{context.DeadlineExceeded, context.Canceled, errors.New("connection reset")} {
		if !location.IsIndeterminate(gcblob.ClassifyWrite("blob set", cause)) {
			t.Errorf("%v classified determinate", cause)
		}
	}
}

// TestGetInto reads into buffers too small and large enough: the value is
// right either way, and lands in the buffer when it fits.
func TestGetInto(t *testing.T) {
	b := gcblob.New(memblob.OpenBucket(nil), "mem")
	defer b.Close()
	value := []byte("a value of some thirty-two bytes")
	if err := b.Set(t.Context(), "k", value); err != nil {
		t.Fatal(err)
	}
	for _, dst := range [][]byte{nil, make([]byte, 5, 31), make([]byte, 0, 32), []byte("0123456789012345678901234567890123456789")} {
		got, ok, err := b.GetInto(t.Context(), "k", dst)
		if err != nil || !ok || string(got) != string(value) {
			t.Fatalf("GetInto(cap %d) = %q, %v, %v", cap(dst), got, ok, err)
		}
		if inDst := cap(dst) > 0 && &got[:1][0] == &dst[:1][0]; inDst != (cap(dst) >= len(value)) {
			t.Errorf("GetInto(cap %d): value in dst %v", cap(dst), inDst)
		}
	}
	if _, ok, err := b.GetInto(t.Context(), "missing", make([]byte, 10)); ok || err != nil {
		t.Fatalf("GetInto(missing) = %v, %v", ok, err)
	}
}
