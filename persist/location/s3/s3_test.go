package s3_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"go.uber.org/goleak"
	"gocloud.dev/blob"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/s3"
	"github.com/shardflow/shardflow/persist/persisttest"
)

func TestMain(m *testing.M) {
	// Credentials the fake accepts; never reach for real ones.
	os.Setenv("AWS_ACCESS_KEY_ID", "test")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Unsetenv("AWS_PROFILE")
	goleak.VerifyTestMain(m)
}

// fakeS3 serves an in-memory S3 on loopback until t ends.
type fakeS3 struct {
	backend *s3mem.Backend
	server  *httptest.Server
	buckets atomic.Int64
}

func newFakeS3(t *testing.T) *fakeS3 {
	f := &fakeS3{backend: s3mem.New()}
	f.server = httptest.NewServer(gofakes3.New(f.backend).Server())
	t.Cleanup(f.server.Close)
	return f
}

// bucketURL creates a new bucket and returns its s3:// URL.
func (f *fakeS3) bucketURL(t *testing.T) string {
	name := fmt.Sprintf("bucket-%d", f.buckets.Add(1))
	if err := f.backend.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("s3://%s?region=us-east-1&endpoint=%s&use_path_style=true&disable_https=true", name, f.server.URL)
}

func TestConformance(t *testing.T) {
	f := newFakeS3(t)
	persisttest.TestBlob(t, func(t *testing.T) location.Blob {
		b, err := location.OpenBlob(t.Context(), f.bucketURL(t))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestBadURL(t *testing.T) {
	for _, u := range []string{"s3://", "file:///x", "s3://%zz"} {
		if b, err := s3.Open(t.Context(), u); err == nil {
			b.Close()
			t.Errorf("Open(%q) accepted", u)
		}
	}
}

// TestMissingBucket: a bucket that does not exist fails Open, rather than
// reading as an empty store (S3 reports it like a missing key).
func TestMissingBucket(t *testing.T) {
	f := newFakeS3(t)
	b, err := s3.Open(t.Context(), fmt.Sprintf("s3://nope?region=us-east-1&endpoint=%s&use_path_style=true&disable_https=true", f.server.URL))
	if err == nil {
		b.Close()
		t.Fatal("opened a missing bucket")
	}
}

// TestPathIsPrefix: s3://bucket/dir keeps the location's keys under dir/,
// so two locations in one bucket neither see nor list each other's keys
// (a janitor in one would otherwise delete the other's parts). A path and
// prefix= together are refused.
func TestPathIsPrefix(t *testing.T) {
	f := newFakeS3(t)
	base := f.bucketURL(t)
	name, query, _ := strings.Cut(strings.TrimPrefix(base, "s3://"), "?")
	open := func(dir string) location.Blob {
		b, err := s3.Open(t.Context(), "s3://"+name+"/"+dir+"?"+query)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	a, b := open("teamA"), open("teamB/")
	if err := a.Set(t.Context(), "s/p/1", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Get(t.Context(), "s/p/1"); err != nil || ok {
		t.Fatalf("teamB sees teamA's key: ok %v, err %v", ok, err)
	}
	var listed []string
	if err := b.List(t.Context(), "", func(m location.BlobMeta) error { listed = append(listed, m.Key); return nil }); err != nil || len(listed) != 0 {
		t.Fatalf("teamB lists %v (%v)", listed, err)
	}
	keys, err := f.backend.ListBucket(name, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Contents) != 1 || keys.Contents[0].Key != "teamA/s/p/1" {
		t.Fatalf("bucket holds %+v, want teamA/s/p/1", keys.Contents)
	}
	if b, err := s3.Open(t.Context(), "s3://"+name+"/teamA?"+query+"&prefix=x/"); err == nil {
		b.Close()
		t.Fatal("a path and prefix= together were accepted")
	}
}

// TestParamsAgreeWithGocloud: a URL's query parameters are refused as a bad
// URL before anything is opened exactly when gocloud's s3 driver would
// refuse them inside its open (which contacts nothing), so an upgrade of
// gocloud that adds or drops a parameter fails here. Values are never
// quoted in the refusal: a key ID is a secret to some.
func TestParamsAgreeWithGocloud(t *testing.T) {
	queries := []string{
		"region=us-east-1",
		"region=",
		"prefix=a/&region=r",
		"awssdk=v2",
		"endpoint=http://localhost:9&use_path_style=true&disable_https=1",
		"s3ForcePathStyle=false",
		"accelerate=true", "accelerate=maybe", "accelerate=",
		"disable_https=yes", "use_path_style=",
		"hostname_immutable=true&endpoint=http://h", "hostname_immutable=x",
		"dualstack=true", "dualstack=2", "fips=false", "fips=",
		"anonymous=true", "anonymous=no",
		"ssetype=AES256", "ssetype=aws:kms&kmskeyid=SECRETKEY", "ssetype=AWS:KMS:DSSE", "ssetype=rot13", "ssetype=",
		"kmskeyid=SECRETKEY", "kmskeyid=",
		"rate_limiter_capacity=10", "rate_limiter_capacity=-3", "rate_limiter_capacity=ten", "rate_limiter_capacity=99999999999",
		"role=arn:aws:iam::1:role/r&region=us-east-1", "role=SECRETROLE",
		"request_checksum_calculation=when_required", "request_checksum_calculation=WHEN_SUPPORTED", "request_checksum_calculation=never",
		"response_checksum_validation=when_supported", "response_checksum_validation=always",
		"bogus=1", "Region=us-east-1", "region=r&bogus=",
		"prefix=", "prefix=&region=us-east-1", "prefix=&prefix=a/", "prefix=a/&prefix=",
	}
	for _, q := range queries {
		raw := "s3://bucket?" + q
		t.Run(q, func(t *testing.T) {
			b, gerr := blob.OpenBucket(t.Context(), raw)
			if gerr == nil {
				b.Close()
			}
			err := location.CheckBlobURL(raw)
			if (err != nil) != (gerr != nil) {
				t.Fatalf("CheckBlobURL(%s) = %v; gocloud's open: %v", raw, err, gerr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, location.ErrBadURL) {
				t.Errorf("CheckBlobURL(%s) = %v, not an ErrBadURL", raw, err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("CheckBlobURL(%s) = %v: quotes the value", raw, err)
			}
		})
	}
	// Refused on purpose though gocloud opens them: a bucket of one key
	// cannot hold a location.
	for _, q := range []string{"key=k&region=us-east-1", "prefix=a/&key=", "key=k&prefix="} {
		raw := "s3://bucket?" + q
		b, gerr := blob.OpenBucket(t.Context(), raw)
		if gerr != nil {
			t.Errorf("gocloud no longer opens %s (%v): drop it from the deliberate refusals", raw, gerr)
		} else {
			b.Close()
		}
		if err := location.CheckBlobURL(raw); !errors.Is(err, location.ErrBadURL) {
			t.Errorf("CheckBlobURL(%s) = %v, want an ErrBadURL", raw, err)
		}
	}
}

// A URL the check passes but gocloud's open refuses (here a role to assume
// with no region anywhere, which only the environment can tell) fails
// with an error that quotes none of its query: gocloud's own errors quote
// the whole URL, key ID and role included.
func TestOpenFailureQuotesNoQuery(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	raw := "s3://bucket/dir?role=arn:aws:iam::1:role/SECRETROLE&ssetype=aws:kms&kmskeyid=SECRETKEY"
	if err := location.CheckBlobURL(raw); err != nil {
		t.Fatalf("CheckBlobURL(%s) = %v, want nil", raw, err)
	}
	b, err := s3.Open(t.Context(), raw)
	if err == nil {
		b.Close()
		t.Fatalf("Open(%s) succeeded with no region", raw)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("Open's error quotes the query: %v", err)
	}
	if !strings.Contains(err.Error(), "s3://bucket") {
		t.Errorf("Open's error does not name the bucket: %v", err)
	}
}
