package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

// measureP5 times, for e.cfg.Writes single-row writes, how long after a
// CompareAndAppend starts a Listen of the same client in another goroutine
// returns the write's parts. The baseline is the CompareAndAppend call
// itself, so the ratio says how much the listener adds to the write.
func measureP5(ctx context.Context, e *env) (rows []Row, err error) {
	id := persist.ShardID(fmt.Sprintf("bench-p5-%d", time.Now().UnixNano()))
	client := persist.NewClient(e.loc, persist.ClientOptions{})
	w, err := client.OpenWriter(ctx, id)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, w.Close(context.WithoutCancel(ctx))) }()
	r, err := client.OpenReader(ctx, id, "bench: listener")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, r.Expire(context.WithoutCancel(ctx))) }()
	// Close [0, 1) with no updates, so that the timed writes at 1, 2, ...
	// are all beyond the listen's as-of 0.
	if err := w.CompareAndAppend(ctx, nil, frontier.From[frontier.Time](0), frontier.From[frontier.Time](1)); err != nil {
		return nil, err
	}
	l, err := r.Listen(ctx, 0)
	if err != nil {
		return nil, err
	}

	lctx, cancel := context.WithCancel(ctx)
	seen := make(chan time.Time, 1)
	var wg sync.WaitGroup
	var listenErr error
	wg.Go(func() {
		defer l.Close()
		for {
			ev, err := l.Next(lctx)
			if err != nil {
				if lctx.Err() == nil {
					listenErr = err
				}
				close(seen)
				return
			}
			if ev.Kind != persist.ListenParts || len(ev.Parts) == 0 {
				continue
			}
			now := time.Now()
			for _, p := range ev.Parts {
				p.Lease.Release()
			}
			seen <- now
		}
	})
	defer func() {
		cancel()
		wg.Wait()
		if listenErr != nil {
			err = errors.Join(err, fmt.Errorf("listen: %w", listenErr))
		}
	}()

	total := e.cfg.Writes + max(1, e.cfg.Writes/10) // the first tenth warms up
	var visible, write []time.Duration
	key, val := make([]byte, keyBytes), make([]byte, valBytes)
	for i := range total {
		t := frontier.Time(i + 1)
		key[0], key[1] = byte(i>>8), byte(i)
		start := time.Now()
		err := w.CompareAndAppend(ctx, []persist.Update{{Key: key, Val: val, Time: t, Diff: 1}},
			frontier.From(t), frontier.From(t+1))
		if err != nil {
			return nil, fmt.Errorf("write %d: %w", i, err)
		}
		wrote := time.Since(start)
		var at time.Time
		select {
		case v, ok := <-seen:
			if !ok {
				return nil, fmt.Errorf("listener stopped after %d writes", i)
			}
			at = v
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if i >= total-e.cfg.Writes {
			visible = append(visible, at.Sub(start))
			write = append(write, wrote)
		}
	}
	what := fmt.Sprintf("write to visible, listener in process, %d writes", e.cfg.Writes)
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	p50 := newRow("P5", what+", p50", "ms", ms(percentile(visible, 50)), ms(percentile(write, 50)))
	p50 = p50.judge("< 2 ms", p50.Shardflow < 2)
	p50.Note = "baseline: the CompareAndAppend call (file blob + SQLite); other process and PostgreSQL: not measured"
	p99 := newRow("P5", what+", p99", "ms", ms(percentile(visible, 99)), ms(percentile(write, 99)))
	return []Row{p50, p99}, nil
}
