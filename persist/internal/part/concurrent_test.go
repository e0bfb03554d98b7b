package part_test

import (
	"bytes"
	"testing"

	"github.com/shardflow/shardflow/persist/internal/part"
)

// TestEncodeConcurrent encodes from several goroutines at once, first of all
// (so any lazily built shared state is built concurrently): under -race it
// fails if writers share mutable schema state.
func TestEncodeConcurrent(t *testing.T) {
	ups := []part.Update{{Key: []byte("k"), Val: []byte("v"), Time: 1, Diff: 1}}
	results := make([][]byte, 8)
	errs := make([]error, 8)
	start := make(chan struct{})
	done := make(chan int)
	for i := range results {
		go func() {
			<-start
			results[i], _, errs[i] = part.Encode(ups)
			done <- i
		}()
	}
	close(start)
	for range results {
		<-done
	}
	for i := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(results[i], results[0]) {
			t.Fatalf("concurrent encodes %d and 0 gave different bytes", i)
		}
	}
}
