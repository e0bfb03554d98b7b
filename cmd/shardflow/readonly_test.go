package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/persisttest"
)

// The commands that only read work on a location this process cannot
// write, and change nothing there: shards, inspect --verify reading the
// part blobs, and replay, which prints what it prints elsewhere and warns
// that it holds nothing. write fails and says why. The commands run in
// child processes that the file modes bind (see persisttest.ReadOnlyChild).
func TestReadOnlyLocation(t *testing.T) {
	base := t.TempDir()
	run := readOnlyRunner(t, base)

	loc := filepath.Join(base, "loc")
	in := filepath.Join(base, "in.jsonl")
	var lines strings.Builder
	for i := range 2000 { // enough for a part in a blob, not inline
		fmt.Fprintf(&lines, `{"key":"key-%06d","val":%d,"time":%d}`+"\n", i, i, i%5+1)
	}
	if err := os.WriteFile(in, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := run(false, "--location", loc, "write", "--shard", "s", "--input", in); err != nil {
		t.Fatalf("write: %v\n%s%s", err, out, errOut)
	}
	blobs, _ := filepath.Glob(filepath.Join(loc, "blob", "s", "p", "*"))
	if len(blobs) == 0 {
		t.Fatal("the write left no part blob: inspect --verify would read none")
	}
	// What a replay prints where it can register its readers; the
	// read-only replay must print the same.
	wantReplay, errOut, err := run(false, "--location", loc, "replay", "--shard", "s", "--workers", "2")
	if err != nil || !strings.Contains(wantReplay, `"frontier":[]`) {
		t.Fatalf("replay: %v\n%s%s", err, wantReplay, errOut)
	}
	wantDemo, errOut, err := run(false, "--location", loc, "demo")
	if err != nil || !strings.Contains(wantDemo, `"frontier":[]`) {
		t.Fatalf("demo: %v\n%s%s", err, wantDemo, errOut)
	}
	setModes(t, loc, 0o555, 0o444)
	t.Cleanup(func() { setModes(t, loc, 0o755, 0o644) })
	before := tree(t, loc)

	if out, errOut, err := run(true, "--location", loc, "shards", "--output", "json"); err != nil || !strings.Contains(out, `"shard":"s"`) {
		t.Fatalf("shards on a read-only location: %v\n%s%s", err, out, errOut)
	}
	if out, errOut, err := run(true, "--location", loc, "inspect", "--shard", "s", "--verify"); err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("inspect --verify on a read-only location: %v\n%s%s", err, out, errOut)
	}
	if out, errOut, err := run(true, "--location", loc, "replay", "--shard", "s", "--workers", "2"); err != nil || out != wantReplay || !strings.Contains(errOut, "without registering a reader") {
		t.Fatalf("replay on a read-only location: %v\n%s%s\nwant\n%s and a warning", err, out, errOut, wantReplay)
	}
	// demo writes nothing where the sample is whole: it replays it.
	// (The frontier lines may differ: see replay --help.)
	if out, errOut, err := run(true, "--location", loc, "demo"); err != nil || updateLines(out) != updateLines(wantDemo) || !strings.Contains(errOut, "already in") {
		t.Fatalf("demo on a read-only location holding the sample: %v\n%s%s\nwant\n%s", err, out, errOut, wantDemo)
	}
	if out, errOut, err := run(true, "--location", loc, "write", "--shard", "s", "--input", in); err == nil || !strings.Contains(errOut, "cannot write") {
		t.Fatalf("write to a read-only location: %v\n%s%s", err, out, errOut)
	}
	if after := tree(t, loc); !slices.Equal(before, after) {
		t.Fatalf("the location changed:\nbefore %v\nafter  %v", before, after)
	}
}

// updateLines returns a replay's output without its frontier lines.
func updateLines(out string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(l, `{"frontier"`) {
			b.WriteString(l)
		}
	}
	return b.String()
}

// setModes gives every directory under root dirMode and every file
// fileMode, parents before children when opening up and children first
// when closing down.
// readOnlyRunner returns a function that runs the CLI in a child process
// (TestMain makes the test binary the CLI) and returns its stdout, then
// its stderr: as this process's user, or with reader as the user the file
// modes bind (see persisttest.ReadOnlyChild).
func readOnlyRunner(t *testing.T, base string) func(reader bool, args ...string) (string, string, error) {
	bin, attr := persisttest.ReadOnlyChild(t, base, "shardflow")
	return func(reader bool, args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
		if reader {
			cmd.SysProcAttr = attr
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		return string(out), stderr.String(), err
	}
}

func setModes(t *testing.T, root string, dirMode, fileMode fs.FileMode) {
	t.Helper()
	var paths []string
	filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return nil
	})
	if dirMode&0o200 == 0 {
		slices.Reverse(paths)
	}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		mode := fileMode
		if fi.IsDir() {
			mode = dirMode
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// tree lists every path under root with its size and modification time.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d %d", p, fi.Size(), fi.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A location another user has open, as its owner's writer or follower
// would, holds SQLite's -wal and -shm files; SQLite then opens it for this
// process read-only without failing, so the read commands do not fall back
// to their read-only open. replay still reads it, without registering a
// reader, as it does a location it cannot open for writing. (Before, its
// since hold failed with SQLite's own read-only error, which was no
// location.ErrReadOnly: status 1.)
func TestReadOnlyLocationInUseByItsOwner(t *testing.T) {
	base := t.TempDir()
	run := readOnlyRunner(t, base)
	loc := filepath.Join(base, "loc")
	in := filepath.Join(base, "in.jsonl")
	if err := os.WriteFile(in, []byte(`{"key":"a","val":1,"time":0}`+"\n"+`{"key":"b","val":2,"time":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := run(false, "--location", loc, "write", "--shard", "s", "--input", in); err != nil {
		t.Fatalf("write: %v\n%s%s", err, out, errOut)
	}
	want, errOut, err := run(false, "--location", loc, "replay", "--shard", "s")
	if err != nil {
		t.Fatalf("replay: %v\n%s%s", err, want, errOut)
	}
	ctx := context.Background()
	owner, err := persist.DefaultLocation(ctx, loc) // the owner's process has it open
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if _, err := persist.NewClient(owner, persist.ClientOptions{}).ListShards(ctx); err != nil {
		t.Fatal(err)
	}
	setModes(t, loc, 0o555, 0o444)
	t.Cleanup(func() { setModes(t, loc, 0o755, 0o644) })
	out, errOut, err := run(true, "--location", loc, "replay", "--shard", "s")
	if err != nil || out != want || !strings.Contains(errOut, "without registering a reader") {
		t.Fatalf("replay of another user's location its owner has open: %v\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", err, out, errOut, want)
	}
	// A write there fails, and says this process may not write the
	// database, not that the store was opened read-only: it was not.
	in2 := filepath.Join(base, "in2.jsonl")
	if err := os.WriteFile(in2, []byte(`{"key":"c","val":1,"time":5}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = run(true, "--location", loc, "write", "--shard", "s", "--input", in2)
	if err == nil || !strings.Contains(errOut, "may not write the database") || strings.Contains(errOut, "opened read-only") {
		t.Fatalf("write to another user's location its owner has open: %v\nstderr:\n%s", err, errOut)
	}
}

// A replay --follow of a location this process cannot write sees what
// another process writes there later. The database, closed cleanly when
// the follower opened it, is read as an immutable file; the write changes
// it, and the follower opens it again rather than fail. (Before, the
// follower froze at the first write: status 3, "the database was written
// since it was opened read-only as immutable".)
func TestReadOnlyFollowSeesLaterWrites(t *testing.T) {
	base := t.TempDir()
	run := readOnlyRunner(t, base)
	loc := filepath.Join(base, "loc")
	in := filepath.Join(base, "in.jsonl")
	if err := os.WriteFile(in, []byte(`{"key":"a","val":1,"time":0}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := run(false, "--location", loc, "write", "--shard", "s", "--input", in); err != nil {
		t.Fatalf("write: %v\n%s%s", err, out, errOut)
	}
	setModes(t, loc, 0o555, 0o444)
	t.Cleanup(func() { setModes(t, loc, 0o755, 0o644) })

	// The follower, a child like run's, is a copy of the binary of its own
	// (TestMain makes a binary named shardflow the CLI). Its stderr goes
	// to a file, read only to report a failure.
	dir := filepath.Join(base, "follower")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin, attr := persisttest.ReadOnlyChild(t, dir, "shardflow")
	cmd := exec.Command(bin, "--location", loc, "replay", "--shard", "s", "--follow")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = attr
	errFile, err := os.Create(filepath.Join(base, "follower.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	stderr := func() string {
		b, _ := os.ReadFile(errFile.Name())
		return string(b)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	deadline := time.After(time.Minute)
	waitLine := func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the follower ended before printing %s\nstderr:\n%s", want, stderr())
				}
				if l == want {
					return
				}
				if strings.HasPrefix(l, `{"error"`) {
					t.Fatalf("the follower froze: %s\nstderr:\n%s", l, stderr())
				}
			case <-deadline:
				t.Fatalf("no %s within a minute\nstderr:\n%s", want, stderr())
			}
		}
	}
	waitLine(`{"frontier":[1]}`)

	// Another process writes: as root despite the modes; as anyone else,
	// the modes must open up for it first.
	if os.Geteuid() != 0 {
		setModes(t, loc, 0o755, 0o644)
	}
	in2 := filepath.Join(base, "in2.jsonl")
	if err := os.WriteFile(in2, []byte(`{"key":"b","val":2,"time":3}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := run(false, "--location", loc, "write", "--shard", "s", "--input", in2); err != nil {
		t.Fatalf("second write: %v\n%s%s", err, out, errOut)
	}
	waitLine(`{"key":"b","val":2,"time":3,"diff":1}`)
	waitLine(`{"frontier":[4]}`)

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Fatalf("follower after Ctrl-C: %v\nstderr:\n%s", err, stderr())
	}
}
