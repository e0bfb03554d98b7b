package part

import (
	"runtime"
	"testing"
)

// A freeList hands back the last value put first, refuses what would take
// it past its limit, and keeps what it holds across collections.
func TestFreeList(t *testing.T) {
	f := freeList[*[]byte]{limit: 100}
	if _, ok := f.get(); ok {
		t.Fatal("an empty list returned a value")
	}
	a, b, c := new([]byte), new([]byte), new([]byte)
	if !f.put(a, 40) || !f.put(b, 60) {
		t.Fatal("values within the limit refused")
	}
	if f.put(c, 1) {
		t.Fatal("a value past the limit kept")
	}
	if f.put(c, 0) {
		t.Fatal("a value of no size kept")
	}
	runtime.GC()
	runtime.GC()
	if v, ok := f.get(); !ok || v != b {
		t.Fatalf("got %p, %v; want the last put, %p", v, ok, b)
	}
	if !f.put(c, 60) {
		t.Fatal("a value refused after room was made")
	}
	for _, want := range []*[]byte{c, a} {
		if v, ok := f.get(); !ok || v != want {
			t.Fatalf("got %p, %v; want %p", v, ok, want)
		}
	}
	if _, ok := f.get(); ok || f.bytes != 0 {
		t.Fatalf("list not empty: %d bytes", f.bytes)
	}
}

// Released blob buffers outlive garbage collections, the last released
// first, and a buffer released twice panics rather than go to two readers.
func TestBlobBuffersSurviveGC(t *testing.T) {
	for { // start from an empty list, whatever other tests left in it
		if _, ok := freeBlobs.get(); !ok {
			break
		}
	}
	const size = 3<<20 + 17 // a capacity no other buffer has
	bb := GetBlobBuffer()
	bb.Release(make([]byte, 0, size))
	runtime.GC()
	runtime.GC()
	got := GetBlobBuffer()
	if c := cap(got.Storage()); c != size {
		t.Errorf("after two collections the next buffer has capacity %d, want the %d released last", c, size)
	}
	got.Release(got.Storage())
	func() {
		defer func() {
			if recover() == nil {
				t.Error("releasing a buffer twice did not panic")
			}
		}()
		got.Release(nil)
	}()
}
