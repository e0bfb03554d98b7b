package part

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/frontier"
)

func TestSizeClass(t *testing.T) {
	last, lastCap := -1, 0
	for n := 0; n <= maxPooled+1; n += 1 + n/1000 {
		c, capacity := sizeClass(n)
		if n <= minPooled/2 || n > maxPooled {
			if c != -1 {
				t.Fatalf("size %d pooled in class %d", n, c)
			}
			continue
		}
		if c < 0 || c >= numClasses {
			t.Fatalf("size %d: class %d out of range", n, c)
		}
		if capacity < n || capacity-n > n/subClasses {
			t.Fatalf("size %d: class size %d", n, capacity)
		}
		if c2, cap2 := sizeClass(capacity); c2 != c || cap2 != capacity {
			t.Fatalf("class size %d of %d is in class %d (size %d), not %d", capacity, n, c2, cap2, c)
		}
		if c < last || (c == last) != (capacity == lastCap) {
			t.Fatalf("size %d: class %d of size %d after class %d of size %d", n, c, capacity, last, lastCap)
		}
		last, lastCap = c, capacity
	}
}

// TestPoolAllocator checks that buffers come back zeroed, whatever their
// previous use, and that foreign buffers are not pooled.
func TestPoolAllocator(t *testing.T) {
	a := &poolAllocator{}
	for _, size := range []int{100, 5000, 1 << 20} {
		for range 20 {
			b := a.Allocate(size)
			if len(b) != size || bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) {
				t.Fatalf("Allocate(%d) gave %d bytes, not all zero", size, len(b))
			}
			for i := range b {
				b[i] = 0xff
			}
			b = a.Reallocate(size/2, b)
			b = a.Reallocate(size+size/16, b) // in place if the class allows
			if bytes.ContainsFunc(b[size/2:], func(r rune) bool { return r != 0 }) {
				t.Fatalf("Reallocate(%d) exposed old bytes", size+size/16)
			}
			a.Free(b)
		}
	}
	foreign := make([]byte, 5000)
	a.Free(foreign) // cap 5000 is no class size
	for range 10 {
		if b := a.Allocate(4900); &b[:1][0] == &foreign[0] {
			t.Fatal("a buffer the allocator did not make was reused")
		}
	}
}

// allocTestParts returns parts of several shapes: the P1 shape, plain pages
// after a dictionary overflow, many pages, long values, a small part.
func allocTestParts(t *testing.T) map[string][]Update {
	t.Helper()
	shapes := map[string]struct{ rows, size, distinct int }{
		"p1":          {15_625, 16, 0},
		"overflow":    {60_000, 32, 0},
		"repeated":    {100_000, 16, 10},
		"long values": {100, 5000, 0},
		"small":       {3, 8, 0},
	}
	out := map[string][]Update{}
	for name, sh := range shapes {
		us := make([]Update, sh.rows)
		for i := range us {
			k := make([]byte, sh.size)
			if sh.distinct > 0 {
				k[0] = byte(i % sh.distinct)
			} else {
				binary.BigEndian.PutUint64(k[max(0, sh.size-8):], uint64(i)*0x9e3779b97f4a7c15)
			}
			us[i] = Update{Key: k, Val: k[:len(k)/2], Time: frontier.Time(i / 1000), Diff: int64(i%3 - 1)}
		}
		out[name] = us
	}
	return out
}

// TestDecodeFreesBuffers decodes through a checked allocator: every buffer
// arrow takes from decodeAllocator must be given back by the time Decode
// returns, whether the part decodes or is refused. Otherwise the pool would
// not save anything. (Poisoned frees under the invariants tag check the
// other direction: nothing is read after it is given back.)
func TestDecodeFreesBuffers(t *testing.T) {
	checked := memory.NewCheckedAllocator(&poolAllocator{})
	saved := decodeAllocator
	decodeAllocator = checked
	defer func() { decodeAllocator = saved }()

	for name, us := range allocTestParts(t) {
		data, _, err := Encode(us)
		if err != nil {
			t.Fatal(err)
		}
		for round := range 3 { // later rounds reuse pooled buffers
			d, err := Decode(data)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			checked.AssertSize(t, 0)
			for i := range us {
				if !bytes.Equal(d.Key(i), us[i].Key) || !bytes.Equal(d.Val(i), us[i].Val) ||
					d.Time(i) != us[i].Time || d.Diff(i) != us[i].Diff {
					t.Fatalf("%s round %d: row %d differs", name, round, i)
				}
			}
			d.Release()
		}
		// Damaged copies: refused or not, nothing stays allocated.
		for _, at := range []int{4, len(data) / 3, len(data) / 2, len(data) - 9, len(data) - 5} {
			bad := bytes.Clone(data)
			bad[at] ^= 0x40
			if d, err := Decode(bad); err == nil {
				d.Release()
			}
			checked.AssertSize(t, 0)
		}
		if d, err := Decode(data[:len(data)/2]); err == nil {
			d.Release()
		}
		checked.AssertSize(t, 0)
	}
}
