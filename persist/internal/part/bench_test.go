package part_test

import (
	"encoding/binary"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/part"
)

// benchUpdates returns n updates with distinct 16-byte keys and 16-byte
// values, times in runs of 1000 and diffs of +1.
func benchUpdates(n int) ([]part.Update, int64) {
	buf := make([]byte, 32*n)
	us := make([]part.Update, n)
	for i := range us {
		k := buf[32*i : 32*i+16 : 32*i+16]
		v := buf[32*i+16 : 32*i+32 : 32*i+32]
		binary.BigEndian.PutUint64(k, uint64(i)*0x9e3779b97f4a7c15)
		binary.BigEndian.PutUint64(k[8:], uint64(i))
		binary.BigEndian.PutUint64(v, uint64(i)^0xdeadbeef)
		binary.BigEndian.PutUint64(v[8:], uint64(i)*7)
		us[i] = part.Update{Key: k, Val: v, Time: frontier.Time(i / 1000), Diff: 1}
	}
	// The logical size of a row: key, value, time and diff.
	return us, int64(n) * (16 + 16 + 8 + 8)
}

const benchRows = 1_000_000

// BenchmarkEncode encodes 1M rows of 16-byte keys and values into one part.
// MB/s counts the logical bytes of the rows (48 per row).
func BenchmarkEncode(b *testing.B) {
	us, size := benchUpdates(benchRows)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := part.Encode(us); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDecode decodes that part and reads every row through the
// accessors, as a fetch does.
func BenchmarkDecode(b *testing.B) {
	us, size := benchUpdates(benchRows)
	data, _, err := part.Encode(us)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	decodeLoop(b, data)
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(len(data))/float64(benchRows), "part-bytes/row")
}

// decodeLoop decodes data and reads every row through the accessors, as a
// fetch does, b.N times.
func decodeLoop(b *testing.B, data []byte) {
	var sink int
	for b.Loop() {
		d, err := part.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		for i := range d.Len() {
			sink += len(d.Key(i)) + len(d.Val(i)) + int(d.Time(i)) + int(d.Diff(i))
		}
		d.Release()
	}
	_ = sink
}

// BenchmarkChecksum is the CRC-32C a fetch computes before Decode.
func BenchmarkChecksum(b *testing.B) {
	us, _ := benchUpdates(benchRows)
	data, _, _ := part.Encode(us)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		part.Checksum(data)
	}
}

// partRows is the size of one part of shardflow bench's P1 and P2 shard:
// 1M rows in 64 parts.
const partRows = benchRows / 64

// partUpdates returns n updates shaped like a P1 part: distinct 16-byte keys
// (a sequence number and random bytes), random 16-byte values, one time and
// diffs of +1. Such a part is small enough to stay dictionary-encoded.
func partUpdates(n int) []part.Update {
	buf := make([]byte, 32*n)
	us := make([]part.Update, n)
	rng := uint64(0x9E3779B97F4A7C15)
	next := func() uint64 {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return rng
	}
	for i := range us {
		k := buf[32*i : 32*i+16 : 32*i+16]
		v := buf[32*i+16 : 32*i+32 : 32*i+32]
		binary.BigEndian.PutUint64(k, uint64(i))
		binary.BigEndian.PutUint64(k[8:], next())
		binary.BigEndian.PutUint64(v, next())
		binary.BigEndian.PutUint64(v[8:], next())
		us[i] = part.Update{Key: k, Val: v, Time: 7, Diff: 1}
	}
	return us
}

// BenchmarkDecodePart decodes one part of P1's size and shape (about
// 600 KB) and reads every row, as a fetch does. MB/s counts part bytes.
func BenchmarkDecodePart(b *testing.B) {
	data, _, err := part.Encode(partUpdates(partRows))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	decodeLoop(b, data)
}
