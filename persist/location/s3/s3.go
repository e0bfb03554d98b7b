package s3

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // registers gocloud's s3 driver

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/gcblob"
)

// gocloudURL is the URL gocloud is to open for rawURL, and rawURL parsed.
// gocloud takes the bucket from the host and ignores the path, so
// s3://b/teamA and s3://b/teamB would be one store, where each one's orphan
// cleanup deletes the other's parts: the path becomes the prefix parameter.
func gocloudURL(rawURL string) (string, *url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error quotes the URL, which may hold a secret.
		return "", nil, errors.New("s3: url does not parse: want s3://BUCKET?region=REGION")
	}
	if u.Scheme != "s3" || u.Host == "" {
		return "", nil, fmt.Errorf("s3: url %s: want s3://BUCKET?region=REGION", redacted(u))
	}
	// gocloud ignores credentials in the URL and quotes the URL in its
	// errors: one there would be ignored, then printed.
	if u.User != nil {
		return "", nil, fmt.Errorf("s3: url %s: credentials in the URL are not used; they come from the AWS credential chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or a role)", redacted(u))
	}
	q, err := location.Query(u) // gocloud's u.Query would drop what does not parse
	if err != nil {
		return "", nil, fmt.Errorf("s3: url %s: %w", redacted(u), err)
	}
	if err := checkParams(q); err != nil {
		return "", nil, fmt.Errorf("s3: url %s: %w", redacted(u), err)
	}
	if e, err := url.Parse(q.Get("endpoint")); err != nil || e.User != nil {
		return "", nil, fmt.Errorf("s3: url %s: the endpoint parameter is not a URL without credentials (they come from the AWS credential chain)", redacted(u))
	}
	dir := strings.Trim(u.Path, "/")
	if dir == "" {
		return rawURL, u, nil
	}
	if q.Has("prefix") {
		return "", nil, fmt.Errorf("s3: url %s names its prefix twice, as the path and as prefix=", redacted(u))
	}
	g := *u
	g.Path, g.RawPath = "", ""
	if g.RawQuery != "" {
		g.RawQuery += "&"
	}
	g.RawQuery += "prefix=" + url.QueryEscape(dir+"/")
	return g.String(), u, nil
}

// checkParams refuses the query parameters gocloud's s3 driver would refuse
// when opening, so that a URL of the wrong form is a bad URL before
// anything is opened (gocloud's refusal comes from inside its open, where it
// cannot be told from a failure to reach the store). It follows gocloud
// v0.47's s3blob and aws packages; TestParamsAgreeWithGocloud holds the two
// together. Values are not read by gocloud beyond the first, so neither are
// they here.
func checkParams(q url.Values) error {
	for name, values := range q {
		v := values[0]
		var err error
		switch name {
		case "prefix", "kmskeyid":
			// gocloud takes an empty one for none and passes it on to its
			// AWS parameters, which refuse it.
			if v == "" {
				err = errors.New("is empty")
			}
		case "key":
			// gocloud would open a bucket of that one key.
			return errors.New("parameter key names a single key; a location needs a bucket, or a prefix (a path) in one")
		case "awssdk", "region", "endpoint", "profile":
			// Any value.
		case "accelerate", "disable_https", "use_path_style", "s3ForcePathStyle",
			"hostname_immutable", "dualstack", "fips", "anonymous":
			_, err = strconv.ParseBool(v)
		case "ssetype":
			err = errors.New("is not AES256, aws:kms or aws:kms:dsse")
			for _, t := range []string{"AES256", "aws:kms", "aws:kms:dsse"} {
				if strings.EqualFold(v, t) {
					err = nil
				}
			}
		case "rate_limiter_capacity":
			_, err = strconv.ParseInt(v, 10, 32)
		case "role":
			if !strings.HasPrefix(v, "arn:") {
				err = errors.New("is not an ARN (arn:...)")
			}
		case "request_checksum_calculation", "response_checksum_validation":
			if l := strings.ToLower(v); l != "when_supported" && l != "when_required" {
				err = errors.New("is not when_supported or when_required")
			}
		default:
			return fmt.Errorf("unknown parameter %q", name)
		}
		if err != nil {
			// The value may be a secret (a key ID): named, not quoted.
			return fmt.Errorf("parameter %s: bad value: %w", name, unquoted(err))
		}
	}
	return nil
}

// unquoted is err with no part of the value it was about: strconv's errors
// quote it.
func unquoted(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}

func init() {
	location.RegisterURLCheck("blob", "s3", func(u *url.URL) error { _, _, err := gocloudURL(u.String()); return err })
	location.RegisterBlob("s3", func(ctx context.Context, u *url.URL) (location.Blob, error) {
		b, err := Open(ctx, u.String())
		if err != nil {
			return nil, err // not a nil *gcblob.Blob in a non-nil Blob
		}
		return b, nil
	})
}

// Open opens the S3 bucket rawURL names (see the package documentation),
// failing if the bucket does not exist or cannot be reached.
func Open(ctx context.Context, rawURL string) (*gcblob.Blob, error) {
	rawURL, u, err := gocloudURL(rawURL)
	if err != nil {
		return nil, location.BadURL(err)
	}
	bucket, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		// gocloud's errors quote the URL, whose query may hold a secret
		// (kmskeyid, role), each wrapping the last: the message is the
		// innermost one's, the cause, with the URL redacted.
		cause := err
		for next := errors.Unwrap(cause); next != nil; next = errors.Unwrap(cause) {
			cause = next
		}
		return nil, &redactedError{msg: fmt.Sprintf("s3: open %s: %v", redacted(u), cause), err: err}
	}
	// Every error names the bucket by this: not the URL, whose query may
	// hold a secret.
	b := gcblob.New(bucket, redacted(u))
	// S3 reports a missing bucket like a missing key; check it once here so
	// a misconfigured URL fails loudly instead of reading as an empty store.
	ok, err := b.Bucket().IsAccessible(ctx)
	if err == nil && !ok {
		err = errors.New("bucket does not exist or is not accessible")
	}
	if err != nil {
		b.Close()
		return nil, location.Determinate("blob open", fmt.Errorf("s3: %s: %w", redacted(u), err))
	}
	return b, nil
}

// redactedError is err with a message that quotes no URL query.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redacted is u for messages, with no user part and no query: either may
// hold a secret.
func redacted(u *url.URL) string {
	r := *u
	r.User, r.RawQuery, r.ForceQuery = nil, "", false
	return r.String()
}
