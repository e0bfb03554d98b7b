package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run runs the command in process in dir and returns its status and output.
func run(t *testing.T, ctx context.Context, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"--location", dir + "/data"}, args...)
	code := Main(ctx, args, Env{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr})
	return code, stdout.String(), stderr.String()
}

// TestInProcess runs the commands in this process, so goleak sees every
// goroutine a replay or a write starts.
func TestInProcess(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	code, out, errOut := run(t, ctx, dir, `{"key":"a","val":1,"time":0}`+"\n"+`{"key":"b","val":2,"time":2}`, "write", "--shard", "s")
	if code != ExitOK || out != "wrote 2 updates to shard s: upper [0] -> [3]\n" {
		t.Fatalf("write: %d %q %q", code, out, errOut)
	}
	code, out, errOut = run(t, ctx, dir, "", "replay", "--shard", "s", "--workers", "3")
	if code != ExitOK || !strings.HasPrefix(out, `{"key":"a","val":1,"time":0,"diff":1}`) || !strings.HasSuffix(out, "{\"frontier\":[]}\n") {
		t.Fatalf("replay: %d %q %q", code, out, errOut)
	}
	code, out, _ = run(t, ctx, dir, "", "inspect", "--shard", "s", "--output", "json")
	if code != ExitOK || !strings.Contains(out, `"readers":[]`) || !strings.Contains(out, `"since":[0]`) {
		t.Fatalf("inspect after replay: %d %q", code, out)
	}
}

// TestFollowCancel stops a --follow replay by cancelling its context, as
// SIGINT does: status 0, nothing leaked, its readers expired.
func TestFollowCancel(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if code, _, errOut := run(t, ctx, dir, `{"key":"a","val":1,"time":0}`, "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	out, done, cancel := startFollow(ctx, dir, "s")
	defer cancel()
	waitOutput(t, out, done, `{"frontier":[1]}`)
	cancel()
	if code := waitDone(t, done, "replay --follow after its interruption"); code != ExitOK {
		t.Fatalf("status %d: %s", code, out.String())
	}
	code, inspect, _ := run(t, ctx, dir, "", "inspect", "--shard", "s", "--output", "json")
	if code != ExitOK || !strings.Contains(inspect, `"readers":[]`) {
		t.Fatalf("readers left behind: %s", inspect)
	}
}

// startFollow runs replay --follow of shard on the location in dir on
// another goroutine, writing stdout and stderr to out: cancel stops it,
// and done receives its status.
func startFollow(ctx context.Context, dir, shard string) (out *syncBuffer, done chan int, cancel context.CancelFunc) {
	fctx, cancel := context.WithCancel(ctx)
	out = &syncBuffer{}
	done = make(chan int, 1)
	go func() {
		done <- Main(fctx, []string{"--location", dir + "/data", "replay", "--shard", shard, "--follow"},
			Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: out})
	}()
	return out, done, cancel
}

// waitOutput waits until out, written by a Main running on another
// goroutine, holds s, failing the test if Main ends first or 10 s pass.
func waitOutput(t *testing.T, out *syncBuffer, done <-chan int, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), s) {
		select {
		case code := <-done:
			t.Fatalf("ended with status %d before printing %s: %q", code, s, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s: %q", s, out.String())
		}
		time.Sleep(5 * time.Millisecond) // polling another goroutine's output, bounded by the deadline
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestProgressOnlyOnTerminal: a bar is drawn only when stderr is a terminal;
// a buffer or a regular file gets nothing.
func TestProgressOnlyOnTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, w := range []io.Writer{&bytes.Buffer{}, f} {
		g := &globals{env: Env{Stderr: w}}
		p := g.newProgress(100, "x", false)
		if p.bar != nil {
			t.Fatalf("%T: a progress bar on a non-terminal", w)
		}
		p.Add(10)
		p.Done()
	}
	if fi, _ := f.Stat(); fi.Size() != 0 {
		t.Fatalf("%d bytes written to a non-terminal stderr", fi.Size())
	}
}

// replay's spinner turns on a terminal stderr only while the updates go
// elsewhere: printed to the same terminal, they would share its line.
// (Before, a replay on a terminal printed "- replaying s (0/-) [0s]
// {"key":...}".)
func TestReplaySpinnerNotBesideItsOutput(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if code, _, errOut := run(t, ctx, dir, `{"key":"a","val":1,"time":0}`, "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	defer func(f func(io.Writer) bool) { terminal = f }(terminal)
	for _, stdoutTerminal := range []bool{false, true} {
		var stdout, stderr bytes.Buffer
		terminal = func(w io.Writer) bool { return w == &stderr || (stdoutTerminal && w == &stdout) }
		code := Main(ctx, []string{"--location", dir + "/data", "replay", "--shard", "s"}, Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
		if code != ExitOK || !strings.HasSuffix(stdout.String(), "{\"frontier\":[]}\n") {
			t.Fatalf("replay: %d %q %q", code, stdout.String(), stderr.String())
		}
		if spinner := strings.Contains(stderr.String(), "replaying s"); spinner == stdoutTerminal {
			t.Errorf("stdout a terminal %v: spinner shown %v: %q", stdoutTerminal, spinner, stderr.String())
		}
	}
}

// gc --since moves the since only as far as the registered readers allow:
// a reader still at the since holds it back, and gc says so.
func TestGCSinceHeldBackByReader(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	in := `{"key":"a","val":1,"time":0}` + "\n" + `{"key":"b","val":2,"time":4}`
	if code, _, errOut := run(t, ctx, dir, in, "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	loc, err := persist.DefaultLocation(ctx, dir+"/data")
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	r, err := persist.NewClient(loc, persist.ClientOptions{}).OpenReader(ctx, "s", "holds the since")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, ctx, dir, "", "gc", "--shard", "s", "--since", "3", "--compact=false")
	if code != ExitOK || !strings.HasPrefix(out, "since: [0] -> [0] (held back by readers: 1 registered)\n") {
		t.Fatalf("gc with a reader at the since: %d %q %q", code, out, errOut)
	}
	if err := r.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, ctx, dir, "", "gc", "--shard", "s", "--since", "3", "--compact=false")
	if code != ExitOK || !strings.HasPrefix(out, "since: [0] -> [3]\n") {
		t.Fatalf("gc once the reader expired: %d %q %q", code, out, errOut)
	}
}

// blockingReader is a standard input that waits for data that never comes,
// like a terminal nobody types at, until ctx is cancelled. reading is
// closed once something waits on it.
type blockingReader struct {
	ctx     context.Context
	once    sync.Once
	reading chan struct{}
}

func newBlockingReader(ctx context.Context) *blockingReader {
	return &blockingReader{ctx: ctx, reading: make(chan struct{})}
}

func (b *blockingReader) Read([]byte) (int, error) {
	b.once.Do(func() { close(b.reading) })
	<-b.ctx.Done()
	return 0, io.EOF
}

// waitDone returns the status a Main running on another goroutine sends on
// done, failing the test if it has not within 10 s.
func waitDone(t *testing.T, done <-chan int, what string) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still running after 10s", what)
		return 0
	}
}

// TestWriteInterrupted: SIGINT (a cancelled context) stops a write that is
// still reading its input, at once, with status 1, a message that says
// nothing was written, and no shard created.
func TestWriteInterrupted(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run(t, context.Background(), dir, `{"key":"a","val":1,"time":0}`, "write", "--shard", "t"); code != ExitOK {
		t.Fatal(errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	stdin := newBlockingReader(ctx)
	go func() {
		done <- Main(ctx, []string{"--location", dir + "/data", "write", "--shard", "s"},
			Env{Stdin: stdin, Stdout: &stdout, Stderr: &stderr})
	}()
	select {
	case <-stdin.reading: // the write is reading its input: interrupt it there
	case code := <-done:
		t.Fatalf("write ended (status %d) before reading its input: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("write did not read its input within 10s")
	}
	cancel()
	if code := waitDone(t, done, "write after its interruption"); code != ExitFailure || stderr.String() != "shardflow: write: interrupted; nothing was written\n" {
		t.Fatalf("status %d, stderr %q", code, stderr.String())
	}
	// Interrupted after its input ended: still nothing written.
	ctx2, cancel2 := context.WithCancel(context.Background())
	code, _, errOut := run(t, ctx2, dir, "", "write", "--shard", "s", "--upper", "5", "--input", writeFile(t, dir, `{"key":"a","val":1,"time":0}`, cancel2))
	if code != ExitFailure || errOut != "shardflow: write: interrupted; nothing was written\n" {
		t.Fatalf("interrupted at the end of the input: status %d, stderr %q", code, errOut)
	}
	if code, out, _ := run(t, context.Background(), dir, "", "shards"); code != ExitOK || !strings.Contains(out, "\nt ") || strings.Contains(out, "\ns ") {
		t.Fatalf("shards after interrupted writes: %d %q", code, out)
	}
}

// An interrupted gc says so in its own words, whatever step it was in.
// (Before, one interrupted while it checked a --since said "write:
// interrupted; nothing was written", and one interrupted elsewhere gave
// the bare "context canceled".)
func TestGCInterrupted(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run(t, context.Background(), dir, `{"key":"a","val":1,"time":0}`+"\n"+`{"key":"a","val":1,"time":3}`, "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{{"gc", "--shard", "s"}, {"gc", "--shard", "s", "--since", "2"}} {
		code, out, errOut := run(t, ctx, dir, "", args...)
		if want := "shardflow: " + errGCInterrupted.Error() + "\n"; code != ExitFailure || errOut != want {
			t.Errorf("%v interrupted: %d %q %q, want stderr %q", args, code, out, errOut, want)
		}
	}
}

// A replay whose output fails (a full disk) stops and reports the failure
// once. (Before, it was reported once per time printed.)
func TestReplayOutputFails(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var in strings.Builder
	// 100 times of 1 KiB each: far more than the printer buffers.
	for i := range 100 {
		fmt.Fprintf(&in, `{"key":"k%d-%s","val":%d,"time":%d}`+"\n", i, strings.Repeat("x", 1024), i, i)
	}
	if code, _, errOut := run(t, ctx, dir, in.String(), "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	var stderr bytes.Buffer
	code := Main(ctx, []string{"--location", dir + "/data", "replay", "--shard", "s"},
		Env{Stdin: strings.NewReader(""), Stdout: failingWriter{}, Stderr: &stderr})
	if code != ExitFailure || strings.Count(stderr.String(), errDiskFull.Error()) != 1 {
		t.Fatalf("replay to a full disk: %d %q, want status 1 and the error once", code, stderr.String())
	}
}

// gc whose report cannot be written (a full disk) still collects, and
// says so, with status 1. (It exited 0.)
func TestGCReportFails(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if code, _, errOut := run(t, ctx, dir, `{"key":"a","val":1,"time":0}`+"\n", "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	var stderr bytes.Buffer
	code := Main(ctx, []string{"--location", dir + "/data", "gc", "--shard", "s"},
		Env{Stdin: strings.NewReader(""), Stdout: failingWriter{}, Stderr: &stderr})
	if code != ExitFailure || !strings.Contains(stderr.String(), "report could not be written: "+errDiskFull.Error()) {
		t.Fatalf("gc to a full disk: %d %q, want status 1 and the write's error", code, stderr.String())
	}
}

var errDiskFull = errors.New("no space left on device")

// failingWriter fails every write, as a full disk does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

// cancelAfterCaS is a consensus that cancels a context once its n-th
// compare-and-set has committed.
type cancelAfterCaS struct {
	location.Consensus
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfterCaS) CompareAndSet(ctx context.Context, key string, expected *location.SeqNo, next location.VersionedData) (location.CaSResult, error) {
	res, err := c.Consensus.CompareAndSet(ctx, key, expected, next)
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return res, err
}

// gc --since interrupted once its reader's since has moved still expires
// that reader, which would otherwise hold GC back for its whole lease.
// (Before, the expiry took the cancelled context and failed.)
func TestGCSinceInterruptedExpiresItsReader(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run(t, context.Background(), dir, `{"key":"a","val":1,"time":0}`+"\n"+`{"key":"a","val":1,"time":3}`, "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	loc, err := persist.DefaultLocation(context.Background(), dir+"/data")
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The reader's registration, then its downgrade: cancelled there.
	cons := &cancelAfterCaS{Consensus: loc.Consensus, n: 2, cancel: cancel}
	client := persist.NewClient(persist.Location{Blob: loc.Blob, Consensus: cons}, persist.ClientOptions{})
	g := &globals{env: Env{Stdout: io.Discard, Stderr: io.Discard}}
	if err := advanceSince(ctx, g, client, "s", 2, io.Discard); err == nil {
		t.Fatal("advanceSince interrupted after the downgrade: no error")
	}
	st, err := persist.NewClient(loc, persist.ClientOptions{}).State(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Readers) != 0 || !st.Since.Equal(frontier.From[frontier.Time](2)) {
		t.Fatalf("after the interrupted gc --since: readers %v, since %v; want none, [2]", st.Readers, st.Since)
	}
}

// writeFile writes content to a file in dir and cancels before returning
// its name: the command starts already interrupted.
func writeFile(t *testing.T, dir, content string, cancel context.CancelFunc) string {
	t.Helper()
	name := dir + "/in.jsonl"
	if err := os.WriteFile(name, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
	cancel()
	return name
}

// TestHelpWraps: every command's long help is wrapped for an 80-column
// terminal, as a person reads it.
func TestHelpWraps(t *testing.T) {
	root := newRoot(Env{})
	for _, cmd := range append(root.Commands(), root) {
		for i, line := range strings.Split(cmd.Long, "\n") {
			if len(line) > 80 {
				t.Errorf("%s --help, line %d is %d columns: %s", cmd.CommandPath(), i+1, len(line), line)
			}
		}
	}
}

// TestWriteTerminalHint: write reading a terminal says what it waits for;
// from a pipe or a file it says nothing.
func TestWriteTerminalHint(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	in := `{"key":"a","val":1,"time":0}`
	if code, _, errOut := run(t, ctx, dir, in, "write", "--shard", "s"); code != ExitOK || errOut != "" {
		t.Fatalf("write from a pipe: %d %q", code, errOut)
	}
	defer func(f func(io.Reader) bool) { stdinIsTerminal = f }(stdinIsTerminal)
	stdinIsTerminal = func(io.Reader) bool { return true }
	code, _, errOut := run(t, ctx, dir, "key,val,time\nb,2,1\n", "write", "--shard", "s", "--format", "csv")
	if want := "shardflow: reading csv updates from standard input; end with Ctrl-D, or pass --input FILE\n"; code != ExitOK || errOut != want {
		t.Fatalf("write from a terminal: %d %q, want %q", code, errOut, want)
	}
}

// TestWriteInterruptedAfterRuns: a write interrupted after it wrote sorted
// runs of a large input deletes them: nothing is left for the janitor.
func TestWriteInterruptedAfterRuns(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lines strings.Builder
	for i := range chunkRecords { // the reader hands over a full chunk
		fmt.Fprintf(&lines, `{"key":"k%d","val":1,"time":0}`+"\n", i)
	}
	stdin := io.MultiReader(strings.NewReader(lines.String()), newBlockingReader(ctx))
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--location", dir + "/data", "write", "--shard", "s", "--buffer-bytes", "1"},
			Env{Stdin: stdin, Stdout: &stdout, Stderr: &stderr})
	}()
	parts := dir + "/data/blob/s/p"
	runs := func() int {
		es, _ := os.ReadDir(parts)
		return len(es)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runs() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs written, want 5 before the interruption", runs())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if code := waitDone(t, done, "write after its interruption"); code != ExitFailure || stderr.String() != "shardflow: write: interrupted; nothing was written\n" {
		t.Fatalf("status %d, stderr %q", code, stderr.String())
	}
	if n := runs(); n != 0 {
		t.Fatalf("%d run blobs left after the interrupted write", n)
	}
}

// Demos started together on a fresh location all write the sample, each
// finishing the batches the others have not appended, and all replay it.
// (Before, the one that lost an append failed with "persist: upper
// mismatch".)
func TestConcurrentDemos(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		dir := t.TempDir()
		codes := make(chan string, 3)
		for range cap(codes) {
			go func() {
				code, out, errOut := run(t, ctx, dir, "", "demo")
				codes <- fmt.Sprintf("%d %q %q", code, out[max(0, len(out)-20):], errOut)
			}()
		}
		for range cap(codes) {
			if got := <-codes; !strings.HasPrefix(got, "0 ") || !strings.Contains(got, `{\"frontier\":[]}`) {
				t.Errorf("round %d: demo beside others: %s", round, got)
			}
		}
	}
}

// A shard's first write killed before its commit leaves part blobs and no
// state. gc of that name runs the janitor alone, which deletes them once
// old enough; with no blobs either the shard does not exist. (Before, gc
// refused the name, and nothing could collect the blobs but a later write
// to the same shard.)
func TestGCCollectsAFirstWriteThatNeverCommitted(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if code, _, errOut := run(t, ctx, dir, `{"key":"a","val":1,"time":0}`, "write", "--shard", "other"); code != ExitOK {
		t.Fatal(errOut)
	}
	parts := filepath.Join(dir, "data", "blob", "big", "p")
	if err := os.MkdirAll(parts, 0o755); err != nil {
		t.Fatal(err)
	}
	old, young := filepath.Join(parts, "w-1-a.parquet"), filepath.Join(parts, "w-1-b.parquet")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("PAR1"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, ctx, dir, "", "gc", "--shard", "big", "--since", "1")
	if code != ExitFailure || !strings.Contains(errOut, `shard "big" does not exist`) {
		t.Fatalf("gc --since of a shard with no state: %d %q", code, errOut)
	}
	code, out, errOut := run(t, ctx, dir, "", "gc", "--shard", "big", "--min-age", "30m")
	if code != ExitOK || !strings.Contains(out, "listed 2 blobs, 1 orphans older than 30m0s, deleted 1") {
		t.Fatalf("gc of a shard with only blobs: %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the old part is still there: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("the part younger than --min-age went: %v", err)
	}
	code, _, errOut = run(t, ctx, dir, "", "gc", "--shard", "nosuch")
	if code != ExitFailure || !strings.Contains(errOut, `shard "nosuch" does not exist`) {
		t.Fatalf("gc of a shard with neither state nor blobs: %d %q", code, errOut)
	}
	// A location nested in this one (its blobs at blob/eu) keeps a shard's
	// part at eu/orders/p/...: not this location's shard "eu", and left be.
	nested := filepath.Join(dir, "data", "blob", "eu", "orders", "p", "w-1-c.parquet")
	if err := os.MkdirAll(filepath.Dir(nested), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nested, []byte("PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(nested, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, ctx, dir, "", "gc", "--shard", "eu", "--min-age", "30m")
	if code != ExitFailure || !strings.Contains(errOut, `shard "eu" does not exist`) {
		t.Fatalf("gc of a shard with only another location's blobs under its prefix: %d %q", code, errOut)
	}
	if _, err := os.Stat(nested); err != nil {
		t.Fatalf("the nested location's part went: %v", err)
	}
}

// A write interrupted once it has registered its writer (so the shard) and
// is about to commit lets the commit finish: it writes the batch, says so,
// and says it was interrupted. (Before, the commit took the cancelled
// context: the write failed saying nothing was written and left the shard
// registered and empty, and over PostgreSQL a commit cut short in flight
// left the user not knowing whether the batch had landed.)
func TestWriteInterruptedWhileCommitting(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer func(f func(*store)) { beforeCommit = f }(beforeCommit)
	beforeCommit = func(*store) { cancel() }
	code, out, errOut := run(t, ctx, dir, `{"key":"a","val":1,"time":0}`, "write", "--shard", "s")
	if code != ExitOK || out != "wrote 1 updates to shard s: upper [0] -> [1]\n" || errOut != "shardflow: interrupted while committing; the commit was let finish\n" {
		t.Fatalf("interrupted before the commit: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A commit that fails while interrupted fails for its own reason,
	// which says nothing was written; not as if the interrupt had stopped
	// it. (Before, it said "interrupted; nothing was written".)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	beforeCommit = func(st *store) { cancel(); st.loc.Consensus.Close() }
	code, out, errOut = run(t, ctx, dir, `{"key":"b","val":1,"time":1}`, "write", "--shard", "s")
	if code != ExitFailure || out != "" || !strings.Contains(errOut, location.ErrClosed.Error()) {
		t.Fatalf("interrupted while a failing commit ran: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	beforeCommit = func(*store) {}
	if code, out, errOut := run(t, context.Background(), dir, "", "shards"); code != ExitOK || !strings.Contains(out, "\ns ") || !strings.HasSuffix(strings.TrimSpace(out), "[1]") {
		t.Fatalf("shards after the write: %d %q %q", code, out, errOut)
	}
}

// The commands a message suggests name the storage the command was given,
// so that they reach the same shards. (Before, they named none, and so
// looked in ./shardflow-data.)
func TestHintsNameTheLocation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	code, _, errOut := run(t, ctx, dir, "", "demo")
	if want := "replaying it: shardflow --location " + dir + "/data replay --shard demo\n"; code != ExitOK || !strings.Contains(errOut, want) {
		t.Fatalf("demo: status %d, stderr %q, want it to hold %q", code, errOut, want)
	}
	code, _, errOut = run(t, ctx, dir, "", "inspect", "--shard", "nosuch")
	if want := "'shardflow --location " + dir + "/data shards' lists them"; code != ExitFailure || !strings.Contains(errOut, want) {
		t.Fatalf("inspect of no shard: status %d, stderr %q, want it to hold %q", code, errOut, want)
	}
	g := &globals{location: "/tmp/my data", blob: "", consensus: ""}
	if got, want := g.commandLine("replay", "--shard", "it's"), `shardflow --location '/tmp/my data' replay --shard 'it'\''s'`; got != want {
		t.Fatalf("commandLine = %s, want %s", got, want)
	}
	g = &globals{location: defaultLocation, blob: "file:///b", consensus: "postgres://u:secret@h/db"}
	if got := g.commandLine("shards"); strings.Contains(got, "secret") || !strings.HasPrefix(got, "shardflow --blob file:///b --consensus postgres://u:") {
		t.Fatalf("commandLine with URLs = %s", got)
	}
}

// write and gc on storage opened read-only say that they need storage they
// can write to and what became of their work, not just a backend's
// "store opened read-only".
func TestReadOnlyStorageRefusedPlainly(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if code, _, errOut := run(t, ctx, dir, `{"key":"a","val":1,"time":0}`, "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	blob, cons := "file://"+dir+"/data/blob", "sqlite://"+dir+"/data/consensus.db"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--blob", blob, "--consensus", cons + "?mode=ro", "write", "--shard", "s"}, "write needs storage it can write to, and this is read-only (drop mode=ro from a URL that has it); nothing was written: "},
		{[]string{"--blob", blob + "?mode=ro", "--consensus", cons, "write", "--shard", "s", "--inline-max-bytes", "0"}, "write needs storage it can write to, and this is read-only (drop mode=ro from a URL that has it); nothing was written: "},
		{[]string{"--blob", blob + "?mode=ro", "--consensus", cons + "?mode=ro", "gc", "--shard", "s"}, "gc needs storage it can write to, and this is read-only (drop mode=ro from a URL that has it); nothing was changed: "},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(ctx, c.args, Env{Stdin: strings.NewReader(`{"key":"a","val":1,"time":3}`), Stdout: &stdout, Stderr: &stderr})
		if code != ExitFailure || !strings.HasPrefix(stderr.String(), "shardflow: "+c.want) {
			t.Errorf("%v: status %d, stderr %q, want it to begin %q", c.args, code, stderr.String(), c.want)
		}
	}
	if code, out, _ := run(t, ctx, dir, "", "shards"); code != ExitOK || !strings.HasSuffix(strings.TrimSpace(out), "[1]") {
		t.Fatalf("shards after the refused writes: %d %q", code, out)
	}
}
