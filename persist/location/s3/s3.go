package s3

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	_ "gocloud.dev/blob/s3blob" // registers gocloud's s3 driver

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/gcblob"
)

func init() {
	location.RegisterBlob("s3", func(ctx context.Context, u *url.URL) (location.Blob, error) {
		return Open(ctx, u.String())
	})
}

// Open opens the S3 bucket rawURL names (see the package documentation),
// failing if the bucket does not exist or cannot be reached.
func Open(ctx context.Context, rawURL string) (*gcblob.Blob, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("s3: url %q: want s3://BUCKET?region=REGION", rawURL)
	}
	b, err := gcblob.Open(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	// S3 reports a missing bucket like a missing key; check it once here so
	// a misconfigured URL fails loudly instead of reading as an empty store.
	ok, err := b.Bucket().IsAccessible(ctx)
	if err == nil && !ok {
		err = errors.New("bucket does not exist or is not accessible")
	}
	if err != nil {
		b.Close()
		return nil, location.Determinate("blob open", fmt.Errorf("s3: %s: %w", u.Redacted(), err))
	}
	return b, nil
}
