package frontier

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkMutableAntichainTotal models an operator's capability under a
// total order: the frontier has one element, and each update is a downgrade
// (add the next time, retract the current one) or a count change beyond it.
func BenchmarkMutableAntichainTotal(b *testing.B) {
	m := NewMutableAntichainAt[Time](0)
	ups := make([]Update[Time], 2)
	b.ReportAllocs()
	t := Time(0)
	for i := range b.N {
		if i%4 == 0 {
			ups[0], ups[1] = Update[Time]{t + 1, 1}, Update[Time]{t, -1}
			t++
		} else {
			ups[0], ups[1] = Update[Time]{t + 5, 1}, Update[Time]{t + 5, -1}
		}
		m.UpdateIter(ups)
	}
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkMutableAntichainProduct8 keeps a frontier of eight incomparable
// product times and moves one element of it per iteration.
func BenchmarkMutableAntichainProduct8(b *testing.B) {
	var m MutableAntichain[pair]
	cur := make([]pair, 8)
	for i := range cur {
		cur[i] = NewProduct(Time(i), Time(8-i))
		m.Update(cur[i], 1)
	}
	if m.Frontier().Len() != 8 {
		b.Fatalf("frontier %v", m.Frontier())
	}
	ups := make([]Update[pair], 2)
	b.ReportAllocs()
	for i := range b.N {
		k := i % 8
		next := NewProduct(cur[k].Outer+8, cur[k].Inner+8)
		ups[0], ups[1] = Update[pair]{next, 1}, Update[pair]{cur[k], -1}
		cur[k] = next
		m.UpdateIter(ups)
	}
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "updates/s")
}

func benchCompact(b *testing.B, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]Update[Time], n)
	for i := range src {
		src[i] = Update[Time]{Time(rng.IntN(n / 4)), rng.Int64N(5) - 2}
	}
	buf := make([]Update[Time], n)
	b.ReportAllocs()
	b.SetBytes(int64(n) * 16)
	for b.Loop() {
		copy(buf, src)
		cb := ChangeBatch[Time]{updates: buf}
		cb.Compact()
	}
}

func BenchmarkChangeBatchCompact1k(b *testing.B)   { benchCompact(b, 1_000) }
func BenchmarkChangeBatchCompact100k(b *testing.B) { benchCompact(b, 100_000) }
