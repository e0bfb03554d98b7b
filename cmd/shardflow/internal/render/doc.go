// Package render prints the stream `shardflow replay` captures: updates,
// consolidated per time, and the frontier each time it advances.
//
// Consolidate makes the output independent of how the work was split: it
// sums the diffs of identical (key, val) at one time, drops zeros and sorts
// by (time, key bytes, val bytes), so any number of workers prints the same
// lines. A sum outside the int64 range is reported as an error rather than
// wrapped around into another number.
//
// A Printer writes one of three formats:
//
//   - jsonl: {"key":K,"val":V,"time":T,"diff":D} per update and
//     {"frontier":[T...]} per frontier change ([] when done); a frozen replay
//     ends with {"error":"...","frontier":[T...]}.
//   - csv: a header key,val,time,diff and one row per update, the format
//     `shardflow write --format csv` reads back. Frontier changes and errors
//     have no CSV form and are left out (the exit status still tells).
//   - table: aligned columns for people, with the frontier as a separator.
//
// Keys and values are printed as the JSON they were written as, compacted
// if it spans lines (written by some other program), so that an update
// keeps to one line. Bytes that are not valid JSON (written by some other
// program) are printed as a JSON string.
package render
