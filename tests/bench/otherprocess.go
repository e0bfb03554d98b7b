package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shardflow/shardflow/persist"
)

// The other-process listener speaks lines on its standard output: "ready"
// once its listen has started, then "seen <unix nanoseconds>" for every
// batch with parts. It stops when its standard input is closed.
const (
	lineReady = "ready"
	lineSeen  = "seen "
)

// ServeListener is the other process of P5: it opens the location of
// blobURL and consensusURL, listens to shard as of 0 and reports each batch
// it sees to out, until in reaches end of file (the measuring process closes
// it) or ctx ends. `shardflow bench` runs it in a child process through
// Config.ListenerCommand. A goroutine copies in until its end, so in must end
// (a child's standard input does when the parent closes it).
func ServeListener(ctx context.Context, blobURL, consensusURL, shard string, in io.Reader, out io.Writer) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, in) // returns at EOF or when in is closed
		cancel()
	}()
	loc, err := persist.OpenLocation(ctx, blobURL, consensusURL)
	if err != nil {
		return fmt.Errorf("bench: listener: %w", err)
	}
	defer func() { err = errors.Join(err, loc.Close()) }()
	client := persist.NewClient(loc, persist.ClientOptions{})
	r, err := client.OpenReader(ctx, persist.ShardID(shard), "bench: other-process listener")
	if err != nil {
		return fmt.Errorf("bench: listener: %w", err)
	}
	defer func() { err = errors.Join(err, r.Expire(context.WithoutCancel(ctx))) }()
	l, err := r.Listen(ctx, 0)
	if err != nil {
		return fmt.Errorf("bench: listener: %w", err)
	}
	if _, err := fmt.Fprintln(out, lineReady); err != nil {
		l.Close()
		return fmt.Errorf("bench: listener: %w", err)
	}
	return listenLoop(ctx, l, func(at time.Time) error {
		_, err := fmt.Fprintf(out, "%s%d\n", lineSeen, at.UnixNano())
		return err
	})
}

// measureP5OtherProcess runs the write session against a listener started
// with Config.ListenerCommand. Times cross the process boundary as wall
// clock readings of one machine.
func (b p5Backend) otherProcess(ctx context.Context, e *env, client *persist.Client) (rows []Row, err error) {
	w, id, err := openP5Shard(ctx, client)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, w.Close(context.WithoutCancel(ctx))) }()

	cmd := e.cfg.ListenerCommand(ctx, b.blobURL, b.consensusURL, string(id))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("listener process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("listener process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("listener process: %w", err)
	}
	lines := make(chan string)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	})
	defer func() {
		stdin.Close()
		for range lines { // drain until the child closes its output
		}
		wg.Wait()
		if werr := cmd.Wait(); werr != nil {
			err = errors.Join(err, fmt.Errorf("listener process: %w: %s", werr, strings.TrimSpace(stderr.String())))
		}
	}()
	next := func(ctx context.Context) (string, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", errors.New("listener process closed its output")
			}
			return l, nil
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}
	rctx, cancel := context.WithTimeoutCause(ctx, visibleTimeout, errors.New("bench: the listener process did not start listening"))
	l, err := next(rctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("listener process: %w", err)
	}
	if l != lineReady {
		return nil, fmt.Errorf("listener process: want %q, got %q", lineReady, l)
	}
	visible, write, err := writeSession(ctx, w, e.cfg.OtherWrites, func(ctx context.Context) (time.Time, error) {
		l, err := next(ctx)
		if err != nil {
			return time.Time{}, err
		}
		ns, ok := strings.CutPrefix(l, lineSeen)
		n, perr := strconv.ParseInt(ns, 10, 64)
		if !ok || perr != nil {
			return time.Time{}, fmt.Errorf("listener process: bad line %q", l)
		}
		return time.Unix(0, n), nil
	})
	if err != nil {
		return nil, err
	}
	note := "the listener is woken by a file event on the database's notify file (polling 10ms-1s is the fallback)"
	if b.name == "PostgreSQL" {
		note = "the listener is woken by LISTEN/NOTIFY"
	}
	return latencyRows(fmt.Sprintf("write to visible, %s, listener in another process, %d writes", b.name, e.cfg.OtherWrites),
		visible, write, note, false), nil
}
