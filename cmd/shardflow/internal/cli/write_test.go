package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
)

// bigInput writes a JSONL file of n updates of distinct keys to dir, and
// with overflow, every 1000th, updates of key "a" whose diffs sum past the
// int64 range.
func bigInput(t *testing.T, dir string, n int, overflow bool) string {
	t.Helper()
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, `{"key":"user-%06d","val":%d,"time":%d}`+"\n", (i*7919)%n, i%7, i%5)
		if overflow && i%1000 == 0 {
			fmt.Fprintf(&lines, `{"key":"a","val":0,"time":0,"diff":%d}`+"\n", math.MaxInt64)
		}
	}
	name := fmt.Sprintf("%s/big-%t.jsonl", dir, overflow)
	if err := os.WriteFile(name, []byte(lines.String()), 0o666); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestWriteShowsMerge: a write of an input larger than its buffer shows,
// on a terminal, a bar reading the input, a spinner while it sorts and
// writes the last run, and then a bar merging its runs, pass by pass, and
// leaves the line clear, also when the merge fails; on anything else it
// shows nothing.
func TestWriteShowsMerge(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	const n = 3000
	in := bigInput(t, dir, n, false)
	// Some 70 runs of about 40 updates: two passes of merges.
	args := []string{"write", "--shard", "s", "--input", in, "--buffer-bytes", "4000"}
	code, out, errOut := run(t, ctx, dir, "", args...)
	if want := fmt.Sprintf("wrote %d updates to shard s: upper [0] -> [5]\n", n); code != ExitOK || out != want || errOut != "" {
		t.Fatalf("write to a non-terminal: %d %q %q, want %q and nothing on stderr", code, out, errOut, want)
	}

	defer func(f func(io.Writer) bool) { terminal = f }(terminal)
	terminal = func(io.Writer) bool { return true }
	args[2] = "t"
	code, out, errOut = run(t, ctx, dir, "", args...)
	if code != ExitOK || !strings.HasPrefix(out, "wrote") {
		t.Fatalf("write to a terminal: %d %q %q", code, out, errOut)
	}
	reading := strings.LastIndex(errOut, "reading "+in)
	sorting := strings.Index(errOut, sortingDesc)
	m := regexp.MustCompile(`merging (\d+) runs, pass 1 of 2`).FindStringIndex(errOut)
	switch {
	case reading < 0:
		t.Fatalf("no bar reading the input: %q", errOut)
	case m == nil:
		t.Fatalf("no bar merging the runs in two passes: %q", errOut)
	case m[0] < reading:
		t.Fatalf("the merge's bar came before the input's was done: %q", errOut)
	case sorting < reading || sorting > m[0] || strings.LastIndex(errOut, sortingDesc) > m[0]:
		t.Fatalf("no spinner while the last run is sorted, between the input's bar and the merge's: %q", errOut)
	case !strings.HasSuffix(errOut, "\r") || strings.TrimSpace(errOut[strings.LastIndex(errOut[:len(errOut)-1], "\r"):]) != "":
		t.Fatalf("the merge's bar was not cleared at the end: %q", errOut)
	}

	// An input that fits the buffer is sorted and written with no merge:
	// the spinner alone shows, and is cleared.
	code, out, errOut = run(t, ctx, dir, "", "write", "--shard", "v", "--input", in)
	switch {
	case code != ExitOK || !strings.HasPrefix(out, "wrote"):
		t.Fatalf("write of one buffer to a terminal: %d %q %q", code, out, errOut)
	case !strings.Contains(errOut, sortingDesc) || strings.Contains(errOut, "merging"):
		t.Fatalf("write of one buffer: want the spinner and no merge: %q", errOut)
	case !strings.HasSuffix(errOut, "\r") || strings.TrimSpace(errOut[strings.LastIndex(errOut[:len(errOut)-1], "\r"):]) != "":
		t.Fatalf("the spinner was not cleared at the end: %q", errOut)
	}

	// The final merge finds the diffs of "a" sum past the int64 range: the
	// bar must go before the error is printed.
	args[2], args[4] = "u", bigInput(t, dir, n, true)
	code, _, errOut = run(t, ctx, dir, "", args...)
	fail := strings.Index(errOut, "shardflow: ")
	switch {
	case code != ExitFailure || fail < 0 || !strings.Contains(errOut[fail:], "int64 range"):
		t.Fatalf("write of diffs summing past the int64 range: %d %q", code, errOut)
	case !strings.Contains(errOut[:fail], "merging"):
		t.Fatalf("no bar merging the runs before the failure: %q", errOut)
	case !strings.HasSuffix(errOut[:fail], "\r") || strings.TrimSpace(errOut[strings.LastIndex(errOut[:fail-1], "\r"):fail]) != "":
		t.Fatalf("the merge's bar was not cleared before the error: %q", errOut)
	}
}
