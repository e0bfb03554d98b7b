package persist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

// threeBlobParts writes three batches of one part each, in blobs, to shard
// "s" and returns the parts of a snapshot at 2, read by r, whose leases
// are released when the test ends.
func threeBlobParts(t *testing.T) (*env, *Client, *ReadHandle, []LeasedPart) {
	t.Helper()
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w, _ := c.OpenWriter(ctx, "s")
	writeBatches(t, w, 0, 3)
	r, _ := c.OpenReader(ctx, "s", "")
	parts, err := r.Snapshot(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range parts {
			p.Lease.Release()
		}
	})
	return e, c, r, parts
}

// damage flips a byte of the first of threeBlobParts' blobs, cuts the
// second short and deletes the third, and returns the first's bytes.
func damage(ctx context.Context, e *env, parts []LeasedPart) []byte {
	data, _, _ := e.blob.Get(ctx, parts[0].Desc.Key)
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0x40
	e.blob.Set(ctx, parts[0].Desc.Key, flipped)
	e.blob.Set(ctx, parts[1].Desc.Key, data[:len(data)-3])
	e.blob.Delete(ctx, parts[2].Desc.Key)
	return data
}

// FetchEncoded then Decode reads what Fetch reads; an EncodedPart is
// consumed once, by Decode or Release.
func TestFetchEncodedThenDecode(t *testing.T) {
	ctx := context.Background()
	_, c, _, parts := threeBlobParts(t)
	for i, p := range parts {
		whole, err := c.FetchLeased(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := c.FetchEncodedLeased(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		halves, err := enc.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rowsOf(halves), rowsOf(whole); !equalContents(got, want) {
			t.Errorf("part %d: FetchEncoded+Decode %v, Fetch %v", i, got, want)
		}
		whole.Release()
		halves.Release()
		if _, err := enc.Decode(); !errors.Is(err, ErrPartConsumed) {
			t.Errorf("second Decode: %v, want ErrPartConsumed", err)
		}
		enc.Release() // harmless after Decode
	}
	enc, err := c.FetchEncodedLeased(ctx, parts[0])
	if err != nil {
		t.Fatal(err)
	}
	enc.Release()
	enc.Release()
	if _, err := enc.Decode(); !errors.Is(err, ErrPartConsumed) {
		t.Errorf("Decode after Release: %v, want ErrPartConsumed", err)
	}
}

// Each check of Fetch fails in its half: the blob's presence and size in
// FetchEncoded, its checksum, decoding and row count in Decode.
func TestFetchEncodedErrors(t *testing.T) {
	ctx := context.Background()
	e, c, _, parts := threeBlobParts(t)
	data := damage(ctx, e, parts)
	for i, want := range []error{ErrBlobCorrupt, ErrBlobMissing} {
		if enc, err := c.FetchEncodedLeased(ctx, parts[i+1]); !errors.Is(err, want) || enc != nil {
			t.Errorf("part %d: got %v, %v, want %v", i+1, enc, err, want)
		}
	}

	// A flipped byte, bytes that match their checksum but are not a part,
	// and a part with another row count than its description: FetchEncoded
	// passes them, Decode refuses them.
	garbage := []byte("PAR1 definitely not parquet PAR1")
	e.blob.Set(ctx, "s/p/garbage", garbage)
	bad := parts[0].Desc
	bad.Key, bad.Bytes, bad.Checksum, bad.Rows = "s/p/garbage", int64(len(garbage)), partChecksum(garbage), 1
	e.blob.Set(ctx, "s/p/whole", data)
	miscounted := parts[0].Desc
	miscounted.Key = "s/p/whole"
	miscounted.Rows++
	for name, d := range map[string]PartDesc{"flipped": parts[0].Desc, "garbage": bad, "row count": miscounted} {
		enc, err := c.FetchEncoded(ctx, "s", d, parts[0].Filter)
		if err != nil {
			t.Fatalf("%s: FetchEncoded: %v", name, err)
		}
		var ce *BlobCorruptError
		if fp, err := enc.Decode(); !errors.As(err, &ce) || fp != nil {
			t.Errorf("%s: Decode: %v, %v, want a *BlobCorruptError", name, fp, err)
		}
	}
	if _, err := c.FetchEncoded(ctx, "s", parts[0].Desc, FetchFilter{}); err == nil {
		t.Error("a filter with no read mode was accepted")
	}
	unknown := parts[0].Desc
	unknown.Format = 99
	if _, err := c.FetchEncoded(ctx, "s", unknown, parts[0].Filter); !errors.Is(err, ErrUnknownPartFormat) {
		t.Errorf("unknown format: %v", err)
	}
}

// A large part, checksummed beside its decoding rather than before it,
// with one value byte changed still decodes, and is refused all the same:
// its rows are never handed out. (Only small parts were damaged before, so
// ignoring the checksum of a large one went unseen.)
func TestFetchCorruptLargePart(t *testing.T) {
	ctx := context.Background()
	e := newEnv()
	c := e.client(blobParts)
	w, _ := c.OpenWriter(ctx, "s")
	const rows = 50_000 // 32 bytes of key and value a row: over 1 MiB
	ups := make([]Update, rows)
	for i := range ups {
		ups[i] = up(fmt.Sprintf("key-%012d", i), fmt.Sprintf("val-%012d", i), 0, 1)
	}
	if err := w.CompareAndAppend(ctx, ups, ts(0), ts(1)); err != nil {
		t.Fatal(err)
	}
	r, _ := c.OpenReader(ctx, "s", "")
	parts, err := r.Snapshot(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, p := range parts {
			p.Lease.Release()
		}
	}()
	if len(parts) != 1 || parts[0].Desc.Bytes < parallelChecksumBytes {
		t.Fatalf("want one part of at least %d bytes, got %d parts, the first %d bytes", parallelChecksumBytes, len(parts), parts[0].Desc.Bytes)
	}
	key := parts[0].Desc.Key
	data, _, err := e.blob.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte("val-000000025000"))
	if at < 0 {
		t.Fatal("the value is not in the part's bytes as written")
	}
	damaged := append([]byte(nil), data...)
	damaged[at+len("val-00000002")] = '9' // val-000000029000: still a value
	e.blob.Set(ctx, key, damaged)
	if fp, err := c.FetchLeased(ctx, parts[0]); !errors.Is(err, ErrBlobCorrupt) {
		t.Errorf("fetch of the damaged part: %v, want ErrBlobCorrupt", err)
		if fp != nil {
			fp.Release()
		}
	}
	enc, err := c.FetchEncodedLeased(ctx, parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if fp, err := enc.Decode(); !errors.Is(err, ErrBlobCorrupt) {
		t.Errorf("decode of the damaged part: %v, want ErrBlobCorrupt", err)
		if fp != nil {
			fp.Release()
		}
	}
}
