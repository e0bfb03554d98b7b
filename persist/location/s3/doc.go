// Package s3 is a location.Blob in an S3 bucket (or any S3-compatible
// store: MinIO, Ceph, R2, ...) through gocloud's s3blob driver.
//
// It registers the blob scheme "s3". The URL is gocloud's:
//
//	s3://BUCKET[/DIR]?region=REGION[&prefix=DIR/][&endpoint=URL&use_path_style=true&disable_https=true]
//
// A path names the prefix the location's keys live under, like prefix=:
// s3://b/teamA and s3://b/teamB are two locations in one bucket. (gocloud
// alone ignores the path; a URL with both a path and prefix= is refused.)
// Versions before this one ignored the path too and kept such a
// location's keys at the bucket's root: name that location without the
// path, or move its keys under DIR/, before reading it with this one (its
// parts would read as missing; nothing is deleted).
//
// The other query parameters are gocloud's: region, endpoint, profile,
// use_path_style (or s3ForcePathStyle), disable_https, accelerate,
// dualstack, fips, anonymous, hostname_immutable, rate_limiter_capacity,
// role, ssetype, kmskeyid, request_checksum_calculation,
// response_checksum_validation and awssdk. An unknown one, or a value
// gocloud would refuse, is a bad URL (location.ErrBadURL), refused before
// anything is opened; so is gocloud's key= (a bucket of one key). Errors
// quote no part of a URL's query: kmskeyid and role may be secrets.
//
// Credentials come from the AWS SDK's default chain: the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared
// config and credentials files (AWS_PROFILE or profile=NAME), or the
// instance's role. A URL holding credentials (s3://KEY:SECRET@BUCKET, or
// an endpoint with a user part) is refused: gocloud would ignore them, and
// quote them in its errors.
//
// Real S3: s3://my-bucket?region=eu-west-1 with credentials in the
// environment; the bucket must exist. S3 PUTs are atomic and durable when
// acknowledged, so Set's contract holds as is.
//
// MinIO (or another S3-compatible server) on a host: point the endpoint at
// it and use path-style addressing, e.g.
//
//	s3://shardflow?region=us-east-1&endpoint=http://minio.local:9000&use_path_style=true&disable_https=true
//
// with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY set to the MinIO user's keys.
// The tests run the same way against an in-process fake
// (github.com/johannesboyne/gofakes3).
//
// Errors follow persist/location/gcblob: a missing key is ok=false; read
// failures are determinate; a failed Set or Delete is determinate only when
// S3 refused the request (access denied, bad argument, ...), and
// indeterminate when it may have landed (a timeout, a 5xx, a lost
// connection). The SDK retries throttling and 5xx answers (three attempts,
// with backoff) before an error surfaces. Delete issues a HEAD first to
// report whether the key existed (a failed HEAD is determinate: nothing
// was deleted), and gocloud's driver another before its DELETE. A GET
// whose body ends before its Content-Length fails (io.ErrUnexpectedEOF)
// rather than return the bytes that came. Errors name the bucket and
// prefix, never the URL's query.
package s3
