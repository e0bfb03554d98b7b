// Package file is a durable location.Blob in a local directory: gocloud's
// fileblob, made durable and kept free of sidecar files. Keys that fileblob
// stores without escaping (every key persist writes) are read straight
// from their files, bypassing fileblob's per-read stat, attribute lookup
// and reader.
//
// It registers the blob scheme "file":
//
//	file:///abs/path/blobs   an absolute directory
//	file://localhost/abs/path/blobs   the same (RFC 8089)
//	file://./rel/blobs       a directory relative to the working directory
//	file:rel/blobs           the same, without the slashes
//
// (In file://HOST/PATH any other host is read as the first component of a
// relative path.)
//
// With the parameter mode=ro (file:///abs/path/blobs?mode=ro) the store is
// opened with OpenReadOnly: nothing is created or written, and a missing
// directory reads as an empty store until something creates it. Otherwise the directory is created if
// missing. Keys map to paths below it ("a/b"
// is the file a/b), so a key cannot also be a directory of another key:
// with "a/b" stored, Set("a") fails (indeterminately, as gocloud reports
// it, though nothing was written), while Get, Exists and Delete find no
// key "a". Deletes are not synced: after a crash a deleted blob may
// reappear, and is then an orphan like any other.
//
// # Durability
//
// Set writes the value to a temporary file next to its final path (so the
// rename never crosses filesystems), fsyncs it, renames it into place, and
// then fsyncs the directory that holds it, plus every directory the write
// created, up to the root (a directory removed from outside the process
// and made again by a later Set counts as created). When Set returns nil the value survives a crash
// or power failure; a reader sees either the old value or all of the new
// one. A failure before the rename is determinate; a failure to sync the
// directory after it is indeterminate (the value is visible, but may not
// survive a crash).
//
// # Keys
//
// A key is a path below the directory, as fileblob escapes it. A key
// whose path would clean into another key's (a leading slash, a "."
// segment, a last ".." segment) or into none (the empty key) is refused by
// every call with location.ErrInvalidBlobKey: "a/./b" and "a/b" would
// otherwise share one file. persist's keys never have such a form.
//
// # What List shows
//
// No attribute sidecars are written; any <key>.attrs files an older writer
// left are hidden from List (and reads still work). A writer that died
// mid-Set leaves its temporary file, named <key>.<hex>.tmp; List shows it
// with its real size and modification time, so an age-based janitor can
// delete it like any other orphan.
//
// List walks the directory itself, calling fn as it goes: an entry that
// goes away while the walk is under way (a temporary file renamed into
// place, a blob another process deletes) is not listed, and a directory it
// cannot read fails the listing rather than being skipped.
package file
