package part

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/internal/testseed"
)

// packRuns encodes vals as the hybrid encoding would, alternating bit-packed
// and RLE runs so that both kinds and their boundaries are exercised.
func packRuns(vals []uint32, width uint, rng *rand.Rand) []byte {
	var out []byte
	for len(vals) > 0 {
		if rng.IntN(2) == 0 { // RLE run of the next value
			n := 1
			for n < len(vals) && vals[n] == vals[0] {
				n++
			}
			out = binary.AppendUvarint(out, uint64(n)<<1)
			for j := range (width + 7) / 8 {
				out = append(out, byte(vals[0]>>(8*j)))
			}
			vals = vals[n:]
			continue
		}
		groups := 1 + rng.IntN(4)
		out = binary.AppendUvarint(out, uint64(groups)<<1|1)
		var acc uint64
		var nbits uint
		for i := range groups * 8 {
			var v uint32
			if i < len(vals) {
				v = vals[i]
			}
			acc |= uint64(v) << nbits
			nbits += width
			for nbits >= 8 {
				out = append(out, byte(acc))
				acc >>= 8
				nbits -= 8
			}
		}
		vals = vals[min(groups*8, len(vals)):]
	}
	return out
}

func TestHybrid(t *testing.T) {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	for width := uint(0); width <= 32; width++ {
		for _, n := range []int{1, 7, 8, 9, 100, 3000} {
			vals := make([]uint32, n)
			for i := range vals {
				if width > 0 && rng.IntN(3) > 0 {
					vals[i] = uint32(rng.Uint64() & (1<<width - 1))
				} else if i > 0 {
					vals[i] = vals[i-1] // runs
				}
			}
			h := hybrid{data: packRuns(vals, width, rng), width: width}
			got := make([]uint32, n)
			for at := 0; at < n; { // in uneven batches
				k := min(n-at, 1+rng.IntN(50))
				if err := h.read(got[at : at+k]); err != nil {
					t.Fatalf("width %d, %d values: %v", width, n, err)
				}
				at += k
			}
			for i := range vals {
				if got[i] != vals[i] {
					t.Fatalf("width %d, %d values: value %d is %d, want %d", width, n, i, got[i], vals[i])
				}
			}
		}
	}
}

func TestHybridMalformed(t *testing.T) {
	for _, tc := range []struct {
		data  []byte
		width uint
		n     int
	}{
		{nil, 3, 1},                            // no runs
		{[]byte{0x80}, 3, 1},                   // header cut short
		{[]byte{2 << 1}, 16, 1},                // RLE run without its value
		{[]byte{2<<1 | 1, 0xff}, 8, 3},         // bit-packed run cut short
		{[]byte{0 << 1, 0 << 1, 0 << 1}, 4, 1}, // empty runs, then nothing
		{append(binary.AppendUvarint(nil, 1<<62|1), 1, 2, 3), 8, 4},
	} {
		h := hybrid{data: tc.data, width: tc.width}
		if err := h.read(make([]uint32, tc.n)); err == nil {
			t.Errorf("%x (width %d): read %d values", tc.data, tc.width, tc.n)
		}
	}
	// A run longer than anyone asks for is fine.
	h := hybrid{data: binary.AppendUvarint(nil, 1<<62), width: 0}
	if err := h.read(make([]uint32, 5)); err != nil {
		t.Errorf("huge zero-width run: %v", err)
	}
}

// TestDictionaryWidths round-trips parts whose columns are dictionary
// encoded with indices of 1 to 15 bits.
func TestDictionaryWidths(t *testing.T) {
	inModes(t, func(t *testing.T) {
		for bitsWide := 1; bitsWide <= 15; bitsWide++ {
			distinct := 1<<bitsWide - 1 + bitsWide%2 // both 2^k-1 and 2^k
			us := make([]Update, 3*distinct+5)
			for i := range us {
				k := []byte(fmt.Sprintf("key-%05d", (i*7919)%distinct))
				us[i] = Update{Key: k, Val: k[4:], Time: frontier.Time(i % distinct), Diff: int64(i%distinct) - 3}
			}
			data, _, err := Encode(us)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Decode(data)
			if err != nil {
				t.Fatalf("%d distinct: %v", distinct, err)
			}
			for i, u := range us {
				if !bytes.Equal(d.Key(i), u.Key) || !bytes.Equal(d.Val(i), u.Val) || d.Time(i) != u.Time || d.Diff(i) != u.Diff {
					t.Fatalf("%d distinct: row %d differs", distinct, i)
				}
			}
			d.Release()
		}
	})
}

func TestAppendValue(t *testing.T) {
	src := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	for n := 0; n <= 20; n++ {
		for _, srcLen := range []int{n, n + 3, 16, len(src)} {
			if srcLen < n || srcLen > len(src) {
				continue
			}
			for _, spare := range []int{0, 5, 15, 16, 40} {
				dst := append(make([]byte, 0, 3+spare), "xyz"...)
				got := appendValue(dst, src[:srcLen:srcLen], n)
				if want := "xyz" + string(src[:n]); string(got) != want {
					t.Fatalf("n %d, src %d, spare %d: %q, want %q", n, srcLen, spare, got, want)
				}
			}
		}
	}
}

func TestAppendRun(t *testing.T) {
	for _, n := range []int64{-1, 0, 1, 2, 3, 7, 8, 9, 1000, 1025} {
		dst := appendRun([]int64{-5}, 42, n)
		if want := 1 + max(n, 0); int64(len(dst)) != want || dst[0] != -5 {
			t.Fatalf("n %d: %d values, first %d", n, len(dst), dst[0])
		}
		for i, v := range dst[1:] {
			if v != 42 {
				t.Fatalf("n %d: value %d is %d", n, i, v)
			}
		}
	}
}
