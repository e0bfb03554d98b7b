package gcblob_test

import (
	"testing"

	"gocloud.dev/blob/fileblob"

	"github.com/shardflow/shardflow/persist/location/gcblob"
)

// BenchmarkGetFile reads a blob of a part's typical size (600 KB) from a
// fileblob bucket.
func BenchmarkGetFile(b *testing.B) {
	bucket, err := fileblob.OpenBucket(b.TempDir(), &fileblob.Options{Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		b.Fatal(err)
	}
	blob := gcblob.New(bucket, "bench")
	defer blob.Close()
	value := make([]byte, 600<<10)
	if err := blob.Set(b.Context(), "part", value); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		v, ok, err := blob.Get(b.Context(), "part")
		if err != nil || !ok || len(v) != len(value) {
			b.Fatalf("Get = %d bytes, %v, %v", len(v), ok, err)
		}
	}
}
