package tests

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// fakeS3 serves an in-memory S3 on loopback until t ends, reachable from
// child processes too.
type fakeS3 struct {
	backend *s3mem.Backend
	server  *httptest.Server
	buckets atomic.Int64
}

func newFakeS3(t testing.TB) *fakeS3 {
	f := &fakeS3{backend: s3mem.New()}
	f.server = httptest.NewServer(gofakes3.New(f.backend).Server())
	t.Cleanup(f.server.Close)
	return f
}

// bucketURL creates a new bucket and returns its s3:// URL.
func (f *fakeS3) bucketURL(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("bucket-%d", f.buckets.Add(1))
	if err := f.backend.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("s3://%s?region=us-east-1&endpoint=%s&use_path_style=true&disable_https=true", name, f.server.URL)
}

// lines reads a child process's standard output line by line.
type lines struct {
	ch   chan string
	done sync.WaitGroup
}

// readLines starts reading r; the goroutine ends at r's end of file, so the
// caller must make r end (the child exits or is killed) and then call wait.
func readLines(r io.Reader) *lines {
	l := &lines{ch: make(chan string, 1024)}
	l.done.Go(func() {
		defer close(l.ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l.ch <- sc.Text()
		}
	})
	return l
}

var errClosed = errors.New("tests: the child closed its output")

// next returns the next line, or an error once d has passed or the output
// ended.
func (l *lines) next(d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return l.nextCtx(ctx)
}

func (l *lines) nextCtx(ctx context.Context) (string, error) {
	select {
	case s, ok := <-l.ch:
		if !ok {
			return "", errClosed
		}
		return s, nil
	case <-ctx.Done():
		return "", fmt.Errorf("tests: waiting for the child's next line: %w", ctx.Err())
	}
}

// wait drains what is left and waits for the reading goroutine.
func (l *lines) wait() []string {
	var rest []string
	for s := range l.ch {
		rest = append(rest, s)
	}
	l.done.Wait()
	return rest
}

// startChild starts cmd with its standard output read line by line. The
// child is killed and reaped when t ends, if it has not been already.
func startChild(t testing.TB, cmd *exec.Cmd) (*lines, *syncBuffer) {
	t.Helper()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := readLines(out)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			l.wait()
			cmd.Wait()
		}
	})
	return l, stderr
}

// syncBuffer collects a child's standard error.
type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
