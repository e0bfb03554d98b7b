// Package gcblob adapts a gocloud.dev/blob Bucket to location.Blob, for any
// gocloud driver (S3, GCS, Azure, memblob, ...). It registers no scheme of
// its own: the scheme packages (persist/location/file, persist/location/s3)
// build on it.
//
// A missing key is ok=false (gocloud's NotFound). Errors are
// *location.ExternalError values classified by gocloud's error code: reads
// (Get, List) have no effects, so their failures are determinate; a failed
// Set or Delete is determinate only when the code says the request was
// refused (InvalidArgument, PermissionDenied, FailedPrecondition, NotFound,
// Unimplemented) and indeterminate otherwise (a timeout, Unavailable, an
// unknown failure): the write may have landed. A cancelled context fails an
// operation determinately before it starts.
//
// Set writes with an explicit content type, so gocloud hands every byte to
// the driver as it is written (no content sniffing buffer), and the write
// becomes visible atomically when the driver commits it on Close.
package gcblob
