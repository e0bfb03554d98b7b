package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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

// readInput parses the records of the named input ("-": standard input). It
// returns errInterrupted as soon as ctx is cancelled, even while a read
// from a terminal or a pipe waits for input.
func (g *globals) readInput(ctx context.Context, name string, format records.Format) ([]records.Record, error) {
	var r io.Reader = g.env.Stdin
	label := "stdin"
	size := int64(-1)
	if name == "-" && stdinIsTerminal(r) {
		// Otherwise a first `shardflow write --shard s` just sits there.
		fmt.Fprintf(g.env.Stderr, "shardflow: reading %s updates from standard input; end with Ctrl-D, or pass --input FILE\n", format)
	}
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--input: %w", err)
		}
		defer file.Close()
		fi, err := file.Stat()
		switch {
		case err == nil && fi.IsDir():
			return nil, fmt.Errorf("--input %s: is a directory, not a file", name)
		case err == nil && fi.Mode().IsRegular():
			size = fi.Size()
		}
		r, label = file, name
	}
	if size >= 0 {
		// A pipe or a terminal has no size to measure against, and a
		// spinner would draw over what a person types.
		bar := g.newProgress(size, "reading "+label, true)
		defer bar.Done()
		r = bar.Reader(r)
	}
	type result struct {
		recs []records.Record
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// Ends at the first read after a cancellation, or when a blocked
		// read returns.
		recs, err := records.Read(ctxReader{ctx, r}, label, format)
		done <- result{recs, err}
	}()
	select {
	case res := <-done:
		if ctx.Err() != nil {
			return nil, errInterrupted
		}
		return res.recs, res.err
	case <-ctx.Done():
		return nil, errInterrupted
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
