package s3_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/shardflow/shardflow/persist/location"
	_ "github.com/shardflow/shardflow/persist/location/s3"
)

// Example runs against an in-process fake S3; against MinIO or S3 only the
// URL (and the credentials in the environment) change.
func Example() {
	backend := s3mem.New()
	backend.CreateBucket("shardflow")
	server := httptest.NewServer(gofakes3.New(backend).Server())
	defer server.Close()

	ctx := context.Background()
	b, err := location.OpenBlob(ctx, "s3://shardflow?region=us-east-1&endpoint="+server.URL+"&use_path_style=true&disable_https=true")
	if err != nil {
		panic(err)
	}
	defer b.Close()
	if err := b.Set(ctx, "shard-1/part-0", []byte("parquet bytes")); err != nil {
		panic(err)
	}
	v, ok, _ := b.Get(ctx, "shard-1/part-0")
	fmt.Printf("%q %v\n", v, ok)
	existed, _ := b.Delete(ctx, "shard-1/part-0")
	fmt.Println("deleted:", existed)
	// Output:
	// "parquet bytes" true
	// deleted: true
}
