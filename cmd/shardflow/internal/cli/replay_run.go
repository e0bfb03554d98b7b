package cli

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/cmd/shardflow/internal/replay"
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/codec"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/shardsource"
)

// replayShard runs the shard source in a dataflow and prints what it
// captures (see package replay).
func replayShard(ctx context.Context, g *globals, st *store, cfg replayConfig) error {
	opts := shardsource.Options[[]byte, []byte]{
		KeyCodec:         codec.Bytes{},
		ValCodec:         codec.Bytes{},
		FetchConcurrency: cfg.fetchConcurrency,
		Logger:           g.log,
	}
	if !cfg.snapshot {
		opts.Snapshot = shardsource.SnapshotExclude
	}
	if cfg.asOf != nil {
		asOf := frontier.From(frontier.Time(*cfg.asOf))
		opts.AsOf = &asOf
	}
	switch {
	case cfg.until != nil:
		opts.Until = frontier.From(frontier.Time(*cfg.until))
		s, err := st.client.State(ctx, cfg.shard)
		if err != nil {
			return failure(err)
		}
		warnUntil(g, cfg, s)
	case !cfg.follow:
		// Stop at the upper as it is now, so the replay ends.
		s, err := st.client.State(ctx, cfg.shard)
		if err != nil {
			return failure(err)
		}
		// A closed shard (upper []) reads to its end by itself.
		opts.Until = s.Upper.Clone()
		warnUnreadable(g, cfg, s)
	}
	g.log.Info("replay", "shard", cfg.shard, "as_of", cfg.asOf, "until", opts.Until.String(),
		"snapshot", cfg.snapshot, "workers", cfg.workers, "fetch_concurrency", cfg.fetchConcurrency, "follow", cfg.follow)

	// A store opened read-only (by the fallback, or by mode=ro in its
	// URL) refuses the since hold: no reader can register there, and none
	// is needed to keep the since where it is, since nothing this replay
	// does can move it.
	release, err := holdSince(ctx, g, st, cfg.shard)
	switch {
	case errors.Is(err, location.ErrReadOnly):
		opts.Unregistered = true
		g.log.Warn("the location is read-only: replaying without registering a reader; nothing holds the since or the parts for this replay, so a writer or GC elsewhere can freeze it (status 3)",
			"shard", cfg.shard)
	case err != nil:
		return failure(err)
	default:
		defer release()
	}

	client := func(context.Context) (*persist.Client, error) { return st.client, nil }
	printer := render.NewPrinter(g.env.Stdout, cfg.output)
	// Updates printed to the terminal the spinner turns on would share
	// its line and be redrawn over: the spinner shows only where the
	// updates go elsewhere.
	var bar *progress
	if !terminal(g.env.Stdout) {
		bar = g.newProgress(-1, "replaying "+string(cfg.shard), false)
	}
	defer bar.Done()
	// Each worker's tokens, touched only on that worker's goroutine.
	tokens := make([]*shardsource.Tokens, cfg.workers)
	err = replay.Run(ctx, replay.Config{
		Workers: cfg.workers,
		Build: func(s *dataflow.Scope[frontier.Time], fail func(error)) (*replay.Stream, func()) {
			o := opts
			o.ErrorHandler = shardsource.Signal(fail)
			parts, t := shardsource.Source(s, "replay", client, cfg.shard, o)
			tokens[s.Index()] = t
			return operators.FlatMap(parts, partRows), t.Drop
		},
		// A fetch still running is not quiescence, however slow the
		// store. The listen is not waited for: one that waits for writes
		// (--follow, or --until past the upper) may never end, and
		// nothing it lists after a freeze can move the frozen frontier.
		Settled: func(worker int) bool { return tokens[worker].FetchSettled() },
		FrozenAt: func(err error) (frontier.Time, bool) {
			var se *shardsource.Error
			if errors.As(err, &se) {
				return se.Time, true
			}
			return 0, false
		},
		Printer: printer,
		Printed: bar.Add,
	})
	var frozen *replay.FrozenError
	if errors.As(err, &frozen) {
		return &exitError{code: ExitFrozen, err: fmt.Errorf("replay: %v (frozen at frontier %s)", frozen.Err, render.FrontierJSON(frozen.Frontier))}
	}
	if err != nil {
		return failure(err)
	}
	if ctx.Err() != nil {
		if !cfg.follow {
			return failure(errors.New("replay: interrupted before the end"))
		}
		g.log.Info("replay stopped by signal")
	}
	return nil
}

// partRows yields a fetched part's rows as updates (copying the bytes) and
// then releases the part.
func partRows(p *shardsource.Part[[]byte, []byte]) iter.Seq[render.Update] {
	return func(yield func(render.Update) bool) {
		defer p.Release()
		for i := range p.Len() {
			// On one line before consolidating: what prints alike sums
			// and sorts alike.
			u := render.Update{
				Key:  render.OneLine(append([]byte(nil), p.Key(i)...)),
				Val:  render.OneLine(append([]byte(nil), p.Val(i)...)),
				Time: uint64(p.Time(i)),
				Diff: p.Diff(i),
			}
			if !yield(u) {
				return
			}
		}
	}
}

// warnUntil explains an --until that leaves nothing to print (not after
// the since, the default as-of), or that makes a replay without --follow
// wait for writes (past the upper).
func warnUntil(g *globals, cfg replayConfig, s persist.ShardState) {
	if since, ok := s.Since.Single(); ok && cfg.asOf == nil && uint64(since) >= *cfg.until {
		g.log.Warn("nothing to replay: --until is not after the as-of, which defaults to the shard's since",
			"shard", cfg.shard, "until", *cfg.until, "since", uint64(since))
	}
	if upper, ok := s.Upper.Single(); ok && !cfg.follow && uint64(upper) < *cfg.until {
		g.log.Warn("--until is past the shard's upper: the replay waits for writes up to it (Ctrl-C stops it)",
			"shard", cfg.shard, "until", *cfg.until, "upper", uint64(upper))
	}
}

// warnUnreadable explains an empty replay: nothing is both complete (before
// the upper) and readable (at or after the since, which every finished
// replay advances to the upper it reached).
func warnUnreadable(g *globals, cfg replayConfig, s persist.ShardState) {
	since, ok1 := s.Since.Single()
	upper, ok2 := s.Upper.Single()
	if !ok1 || !ok2 {
		return
	}
	asOf := since
	if cfg.asOf != nil {
		asOf = frontier.Time(*cfg.asOf)
	}
	if asOf >= upper && asOf >= since {
		g.log.Warn("nothing to replay: the as-of is not before the shard's upper; write more, or use --follow",
			"shard", cfg.shard, "as_of", uint64(asOf), "since", uint64(since), "upper", uint64(upper))
	}
}

// holdSince registers a reader that keeps the shard's since where it is
// while the replay runs, and returns the function that expires it.
//
// The source's own reader downgrades its since as it reads, and the shard's
// since is the meet of its readers' sinces, which stays put once no reader
// is left. Without the hold, a replay would leave the since at the upper it
// reached, and every later replay would see the history before it only
// consolidated at that since: reading would change what can be read.
func holdSince(ctx context.Context, g *globals, st *store, shard persist.ShardID) (release func(), err error) {
	r, err := st.client.OpenReader(ctx, shard, "shardflow replay: since hold")
	if err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		// Heartbeat well within the lease (a --follow can run for days).
		defer close(done)
		t := time.NewTicker(leaseDuration / 4)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := r.Heartbeat(context.WithoutCancel(ctx)); err != nil {
					g.log.Warn("since hold heartbeat", "err", err)
				}
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := r.Expire(ectx); err != nil {
			g.log.Warn("expiring the since hold", "reader", r.ID(), "err", err)
		}
	}, nil
}
