// Package part encodes and decodes the parts of a shard: immutable Parquet
// files of updates (key, val, time, diff).
//
// A part has four required columns, in this order: key (binary), val
// (binary), time (unsigned 64-bit) and diff (signed 64-bit). Rows keep the
// order they were given to Encode. The footer carries the part's Stats
// (rows, time range, key bounds, sum of diffs) so that ReadStats can answer
// without decoding rows. Encoding is deterministic: the same updates give
// the same bytes, so a part's Checksum identifies its content.
//
// Parts are written uncompressed with dictionary encoding on: decoding
// speed matters more than size for the replay path. The footer also says
// whether every key, and every value, has one length (widths.go), so that
// a page of fixed-width values decodes without a pass over its lengths;
// parts without that entry decode as well.
//
// Integrity: Parquet does not checksum its pages, so the bytes of a part are
// protected by the CRC-32C its reference records (Checksum). A reader checks
// it before calling Decode. Decode itself treats its input as untrusted:
// malformed bytes of any kind give an error wrapping ErrCorrupt, never a
// panic, and a footer cannot make it allocate for more than MaxRows rows.
// It reads the footer and the page headers itself, with a bounded reader
// of Thrift's compact protocol (thrift.go), and accepts only the shape
// Encode writes: a root of the four columns, uncompressed and unencrypted,
// plain or dictionary pages. Parquet files of other shapes, valid or not,
// are refused with ErrCorrupt.
//
// Decoded holds the rows column by column: times and diffs in flat
// buffers, keys and values as spans of the part's own bytes, which must
// outlive it (Decoded.Hold hands it a pooled BlobBuffer to release with
// it). Accessors return views, valid until Release, which recycles the
// buffers for the next Decode. Reading a part row by row allocates nothing.
//
// Split cuts a long run of updates into pieces of about a target encoded
// size (DefaultTargetSize), estimating each update's share
// (EstimatedSize) without encoding.
package part
