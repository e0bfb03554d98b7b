package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	_ "github.com/shardflow/shardflow/persist/location/postgres" // Config.PostgresURL
)

// measureP5 times, for e.cfg.Writes single-row writes, how long after a
// CompareAndAppend starts a listener returns the write's parts: a Listen of
// the same client in another goroutine and, when Config.ListenerCommand is
// set, a listener in another process. The baseline is the CompareAndAppend
// call itself. It is no lower bound: the call returns after its automatic
// merge, which every few writes runs after the write is already visible,
// so at p99 the listener may see a write before its call returns.
func measureP5(ctx context.Context, e *env) (rows []Row, err error) {
	abs, err := filepath.Abs(e.dir)
	if err != nil {
		return nil, fmt.Errorf("p5: %w", err)
	}
	blobURL, consensusURL := persist.DefaultURLs(abs)
	backends := []p5Backend{{name: "SQLite", blobURL: blobURL, consensusURL: consensusURL}}
	var pgNote string
	if e.cfg.PostgresURL != "" {
		pgURL, drop, why := scratchSchema(ctx, e.cfg.PostgresURL)
		if why != nil {
			pgNote = fmt.Sprintf("; P5's shards stay in the database (bench-p5-*): no schema of its own could be made for them: %v", why)
		}
		defer func() {
			if derr := drop(); derr != nil {
				err = errors.Join(err, fmt.Errorf("p5: %w", derr))
			}
		}()
		backends = append(backends, p5Backend{name: "PostgreSQL", blobURL: blobURL, consensusURL: pgURL})
	}
	for _, b := range backends {
		more, err := b.measure(ctx, e)
		if b.name == "PostgreSQL" && len(more) > 0 {
			more[0].Note += pgNote
		}
		rows = append(rows, more...)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", b.name, err)
		}
	}
	if e.cfg.ListenerCommand == nil {
		rows[0].Note += "; other process: not measured (no ListenerCommand)"
	}
	if e.cfg.PostgresURL == "" {
		rows[0].Note += "; PostgreSQL: not measured (no PostgresURL)"
	}
	return rows, nil
}

// p5Backend is a location P5 measures: blobs in files, consensus named by
// URL.
type p5Backend struct {
	name                  string
	blobURL, consensusURL string
}

func (b p5Backend) measure(ctx context.Context, e *env) (rows []Row, err error) {
	loc, err := persist.OpenLocation(ctx, b.blobURL, b.consensusURL)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, loc.Close()) }()
	client := persist.NewClient(loc, persist.ClientOptions{})
	rows, err = b.inProcess(ctx, e, client)
	if err != nil || e.cfg.ListenerCommand == nil {
		return rows, err
	}
	more, err := b.otherProcess(ctx, e, client)
	return append(rows, more...), err
}

func (b p5Backend) inProcess(ctx context.Context, e *env, client *persist.Client) (rows []Row, err error) {
	w, id, err := openP5Shard(ctx, client)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, w.Close(context.WithoutCancel(ctx))) }()
	r, err := client.OpenReader(ctx, id, "bench: listener")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, r.Expire(context.WithoutCancel(ctx))) }()
	l, err := r.Listen(ctx, 0)
	if err != nil {
		return nil, err
	}

	lctx, cancel := context.WithCancel(ctx)
	seen := make(chan time.Time, 1)
	var wg sync.WaitGroup
	var listenErr error
	wg.Go(func() {
		defer close(seen)
		listenErr = listenLoop(lctx, l, func(at time.Time) error {
			select {
			case seen <- at:
				return nil
			case <-lctx.Done():
				return nil
			}
		})
	})
	defer func() {
		cancel()
		wg.Wait()
		if listenErr != nil {
			err = errors.Join(err, fmt.Errorf("listen: %w", listenErr))
		}
	}()
	visible, write, err := writeSession(ctx, w, e.cfg.Writes, func(ctx context.Context) (time.Time, error) {
		select {
		case at, ok := <-seen:
			if !ok {
				return time.Time{}, errors.New("the listener stopped")
			}
			return at, nil
		case <-ctx.Done():
			return time.Time{}, context.Cause(ctx)
		}
	})
	if err != nil {
		return nil, err
	}
	return latencyRows(fmt.Sprintf("write to visible, %s, listener in process, %d writes", b.name, e.cfg.Writes),
		visible, write, fmt.Sprintf("baseline: the CompareAndAppend call (default options: a one-row batch is kept inline in the %s state, no blob file; the call includes the automatic merge that follows some writes once they are visible)", b.name), true), nil
}

// openP5Shard creates a new shard, opens its writer and closes [0, 1) with
// no updates, so that writes at 1, 2, ... are all beyond a listen as of 0.
func openP5Shard(ctx context.Context, client *persist.Client) (*persist.WriteHandle, persist.ShardID, error) {
	id := persist.ShardID(fmt.Sprintf("bench-p5-%d", time.Now().UnixNano()))
	w, err := client.OpenWriter(ctx, id)
	if err != nil {
		return nil, id, err
	}
	if err := w.CompareAndAppend(ctx, nil, frontier.From[frontier.Time](0), frontier.From[frontier.Time](1)); err != nil {
		return nil, id, errors.Join(err, w.Close(context.WithoutCancel(ctx)))
	}
	return w, id, nil
}

// listenLoop calls seen with the time each batch with parts arrives, until
// ctx ends (nil) or the listen fails.
func listenLoop(ctx context.Context, l *persist.Listen, seen func(time.Time) error) error {
	defer l.Close()
	for {
		ev, err := l.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ev.Kind != persist.ListenParts || len(ev.Parts) == 0 {
			continue
		}
		at := time.Now()
		for _, p := range ev.Parts {
			p.Lease.Release()
		}
		if err := seen(at); err != nil {
			return err
		}
	}
}

// visibleTimeout bounds the wait for one write to be seen, so that a
// listener that misses a write fails the measure instead of hanging it.
const visibleTimeout = 30 * time.Second

var errNotSeen = fmt.Errorf("bench: a write was not seen within %v", visibleTimeout)

// writeSession writes one row at each of the times 1, 2, ... and after
// each write waits for visibleAt to say when a listener saw it. The first
// tenth of the writes warm up; the rest are returned: the latency from each
// write's start to its visibility, and the write call's own latency.
func writeSession(ctx context.Context, w *persist.WriteHandle, writes int, visibleAt func(context.Context) (time.Time, error)) (visible, write []time.Duration, err error) {
	total := writes + max(1, writes/10)
	key, val := make([]byte, keyBytes), make([]byte, valBytes)
	for i := range total {
		t := frontier.Time(i + 1)
		key[0], key[1], key[2] = byte(i>>16), byte(i>>8), byte(i)
		start := time.Now()
		err := w.CompareAndAppend(ctx, []persist.Update{{Key: key, Val: val, Time: t, Diff: 1}},
			frontier.From(t), frontier.From(t+1))
		if err != nil {
			return nil, nil, fmt.Errorf("write %d: %w", i, err)
		}
		wrote := time.Since(start)
		wctx, cancel := context.WithTimeoutCause(ctx, visibleTimeout, errNotSeen)
		at, err := visibleAt(wctx)
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("waiting for write %d to be seen: %w", i, err)
		}
		if i >= total-writes {
			visible = append(visible, at.Sub(start))
			write = append(write, wrote)
		}
	}
	return visible, write, nil
}

// latencyRows makes the p50 and p99 rows of a session.
func latencyRows(what string, visible, write []time.Duration, note string, judge bool) []Row {
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	p50 := newRow("P5", what+", p50", "ms", ms(percentile(visible, 50)), ms(percentile(write, 50)))
	if judge {
		p50 = p50.judge("< 2 ms", p50.Shardflow < 2)
	}
	p50.Note = note
	p99 := newRow("P5", what+", p99", "ms", ms(percentile(visible, 99)), ms(percentile(write, 99)))
	return []Row{p50, p99}
}
