// Package records parses the updates that `shardflow write` appends and
// canonicalizes their keys and values.
//
// An update is (key, val, time, diff): key and val are arbitrary JSON, time
// an unsigned 64-bit integer and diff a signed 64-bit integer (default 1).
// Two input formats carry them:
//
//   - JSONL: one JSON object per line, with exactly the fields "key", "val",
//     "time" and optionally "diff". Blank lines are skipped.
//   - CSV: a header naming the columns key, val, time and optionally diff, in
//     any order, then one row per update. A key or val cell holds JSON text;
//     a cell that is not valid JSON is taken as a string, so apple means
//     "apple" while 42 is a number and "42" (in CSV, """42""") a string.
//     A time or diff cell is a decimal integer, spaces around it and a sign
//     allowed (+3 is 3, and a time cannot be negative).
//
// Input must be UTF-8: a line with other bytes is refused rather than have
// them replaced by U+FFFD, which would make different keys one.
//
// An object with a member name twice, at any depth, is refused: decoding it
// would keep one of the two values and silently drop the other.
//
// Keys and values are stored as canonical JSON: compact, object members
// sorted by name, strings with no needless escapes, numbers as written.
// Two spellings of one JSON value therefore store the same bytes and
// consolidate together.
//
// Input is untrusted: a malformed line gives a *LineError naming the input
// and the line number (matching ErrMalformed with errors.Is), never a panic.
package records
