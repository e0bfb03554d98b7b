package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/mattn/go-isatty"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/records"
)

// errInterrupted is write's failure when SIGINT or SIGTERM stops it before
// its commit.
var errInterrupted = errors.New("write: interrupted; nothing was written")

// interruptedOr is err as a failure, or errInterrupted if ctx was cancelled:
// a step before the commit failed because the command was interrupted.
func interruptedOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return failure(errInterrupted)
	}
	return failure(err)
}

// input is the records of --input, read on a goroutine of their own and
// handed over in chunks, so that parsing overlaps writing and a read that
// waits on a terminal or a pipe does not keep an interrupt waiting.
type input struct {
	label  string
	chunks <-chan recordChunk
	stop   func() // ends the reading goroutine and closes the file; idempotent
}

// recordChunk is some records of the input, or, last, why it ended early.
type recordChunk struct {
	recs []records.Record
	err  error
}

// chunkRecords is how many records go in a chunk.
const chunkRecords = 1024

// openInput starts reading the records of the named input ("-": standard
// input), with a progress bar when the input is a file.
func (g *globals) openInput(ctx context.Context, name string, format records.Format) (*input, error) {
	var r io.Reader = g.env.Stdin
	label := "stdin"
	size := int64(-1)
	if name == "-" && stdinIsTerminal(r) {
		// Otherwise a first `shardflow write --shard s` just sits there.
		fmt.Fprintf(g.env.Stderr, "shardflow: reading %s updates from standard input; end with Ctrl-D, or pass --input FILE\n", format)
	}
	var file *os.File
	if name != "-" {
		var err error
		if file, err = openFile(ctx, name); err != nil {
			return nil, err
		}
		fi, err := file.Stat()
		switch {
		case err == nil && fi.IsDir():
			file.Close()
			return nil, fmt.Errorf("--input %s: is a directory, not a file", name)
		case err == nil && fi.Mode().IsRegular():
			size = fi.Size()
		}
		r, label = file, name
	}
	var bar *progress
	if size >= 0 {
		// A pipe or a terminal has no size to measure against, and a
		// spinner would draw over what a person types.
		bar = g.newProgress(size, "reading "+label, true)
		r = bar.Reader(r)
	}
	ctx, cancel := context.WithCancel(ctx)
	chunks := make(chan recordChunk, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(chunks)
		// Ends at the first read after a cancellation, or when a blocked
		// read returns.
		sendChunks(ctx, records.NewReader(ctxReader{ctx, r}, label, format), chunks)
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		bar.Done()
		if file != nil {
			// Closing it ends a read that waits on a named pipe. One from
			// standard input may wait on, and the goroutine then ends with
			// the process.
			file.Close()
			<-done
		}
	})
	return &input{label: label, chunks: chunks, stop: stop}, nil
}

// openFile opens the named input. Opening a named pipe waits for a writer:
// an interrupt ends the wait (the open goes on in the background, and
// closes what it opens).
func openFile(ctx context.Context, name string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened)
	go func() {
		f, err := os.Open(name)
		select {
		case ch <- opened{f, err}:
		case <-ctx.Done():
			if f != nil {
				f.Close()
			}
		}
	}()
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, fmt.Errorf("--input: %w", o.err)
		}
		return o.f, nil
	case <-ctx.Done():
		return nil, errInterrupted
	}
}

// sendChunks sends rd's records in chunks, then the error that ended them
// (none at the end of the input), until ctx is cancelled.
func sendChunks(ctx context.Context, rd *records.Reader, out chan<- recordChunk) {
	send := func(c recordChunk) bool {
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	recs := make([]records.Record, 0, chunkRecords)
	for {
		rec, err := rd.Next()
		if err != nil {
			if len(recs) > 0 && !send(recordChunk{recs: recs}) {
				return
			}
			if err != io.EOF {
				send(recordChunk{err: err})
			}
			return
		}
		recs = append(recs, rec)
		if len(recs) == chunkRecords {
			if !send(recordChunk{recs: recs}) {
				return
			}
			recs = make([]records.Record, 0, chunkRecords)
		}
	}
}

// stdinIsTerminal reports whether r is a terminal, where a person would
// type the updates (a variable, so tests can pretend).
var stdinIsTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// ctxReader stops reading once its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
