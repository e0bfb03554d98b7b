//go:build unix

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A write whose --input is a named pipe stops at an interrupt both while
// its open waits for a writer and while it reads from a writer that
// stalls. (Before, the open kept the first interrupt waiting until a
// writer came: only a second interrupt, which kills the process, ended
// it. And a read already waiting on a stalled writer when the interrupt
// came kept it waiting too, which this test cannot force: the interrupt
// may come before the read starts.)
func TestWriteFromANamedPipeInterrupted(t *testing.T) {
	dir := t.TempDir()
	// Each half has a pipe of its own: the first half's open, going on in
	// the background, may still hold its read end when the second half
	// opens a writer, which would pair with it and leave the second
	// half's own open waiting for a writer forever (goleak saw it, 5 runs
	// in 200 at -cpu 4).
	fifo, fifo2 := filepath.Join(dir, "in"), filepath.Join(dir, "in2")
	for _, f := range []string{fifo, fifo2} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Skipf("no named pipes here: %v", err)
		}
	}
	write := func(ctx context.Context, fifo string) (done chan int, stderr *bytes.Buffer) {
		done, stderr = make(chan int, 1), &bytes.Buffer{}
		go func() {
			done <- Main(ctx, []string{"--location", dir + "/data", "write", "--shard", "s", "--input", fifo},
				Env{Stdin: bytes.NewReader(nil), Stdout: &bytes.Buffer{}, Stderr: stderr})
		}()
		return done, stderr
	}
	const interrupted = "shardflow: write: interrupted; nothing was written\n"

	// No writer: the open waits.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done, stderr := write(ctx, fifo)
	if code := waitDone(t, done, "write interrupted while opening a named pipe"); code != ExitFailure || stderr.String() != interrupted {
		t.Fatalf("interrupted while opening: status %d, stderr %q", code, stderr.String())
	}
	// Let the open in the background finish; it closes what it opened.
	writer := openWriter(t, fifo)
	writer.Close()

	// A writer that sends a line and stalls: the read waits.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	done, stderr = write(ctx, fifo2)
	writer = openWriter(t, fifo2)
	defer writer.Close()
	if _, err := writer.WriteString(`{"key":"a","val":1,"time":0}` + "\n"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if code := waitDone(t, done, "write interrupted while reading a stalled named pipe"); code != ExitFailure || stderr.String() != interrupted {
		t.Fatalf("interrupted while reading: status %d, stderr %q", code, stderr.String())
	}
}

// openWriter opens the write end of the named pipe at path, which waits
// for a reader.
func openWriter(t *testing.T, path string) *os.File {
	t.Helper()
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		if o.err != nil {
			t.Fatal(o.err)
		}
		return o.f
	case <-time.After(10 * time.Second):
		t.Fatalf("no reader opened %s within 10s", path)
		return nil
	}
}
