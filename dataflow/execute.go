package dataflow

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// errAborted is the panic value that unwinds a worker of an Execute whose
// peer panicked, wherever its driving code is stepping it.
type errAborted struct{}

// Config configures a group of workers.
type Config struct {
	// Workers is the number of workers (at least 1).
	Workers int
	// Fabric connects the workers; nil means NewChannelFabric.
	Fabric Fabric
	// IdleTimeout, if positive, is how long a worker whose fn has returned
	// may sit parked with nothing happening before Execute gives up on it:
	// the worker stops with ErrStalled and a *LeakError naming the
	// capabilities that hold its dataflows open. Zero waits forever. It is
	// a diagnostic for tests: a wake-up that is merely slow also trips it.
	IdleTimeout time.Duration
}

// Execute runs cfg.Workers workers, each on its own goroutine. Each calls
// fn, which builds dataflows (the same on every worker) and may step the
// worker itself; after fn returns, the worker keeps stepping, parking when
// idle, until its dataflows complete. Execute returns when every worker has
// finished, with the workers' errors joined: a *PanicError for a worker that
// panicked, and a *LeakError for capabilities still held when a worker
// stopped. A panic stops the other workers: they are named in one error
// wrapping ErrAborted, which stands for theirs (the capabilities they held
// when stopped are no leak), except a worker that stalled (see
// IdleTimeout), whose error is kept whole. Before it returns, the values
// the workers' dataflows share (Shared) are closed, aborted or not.
func Execute(cfg Config, fn func(*Worker)) error {
	workers := NewWorkers(cfg)
	var abort atomic.Bool
	for _, w := range workers {
		w.abort = &abort
	}
	errs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					if _, ok := v.(errAborted); ok {
						errs[i] = fmt.Errorf("dataflow: worker %d: %w", i, ErrAborted)
						return
					}
					errs[i] = &PanicError{Worker: i, Value: v, Stack: debug.Stack()}
					abort.Store(true)
					for _, o := range workers {
						o.notify()
					}
				}
			}()
			fn(w)
			stalled := false
			for !abort.Load() && w.Running() > 0 {
				if w.Idle() {
					if cfg.IdleTimeout > 0 {
						stalled = !w.park(cfg.IdleTimeout)
						if stalled {
							break
						}
					} else {
						w.park(Forever)
					}
				}
				w.Step()
			}
			err := w.Close()
			if stalled {
				err = errors.Join(ErrStalled, err)
			}
			if abort.Load() {
				err = errors.Join(ErrAborted, err)
			}
			if err != nil {
				errs[i] = fmt.Errorf("dataflow: worker %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	// A worker that panicked kept its dataflows, and the values they share
	// with the other workers: nothing will step them again.
	workers[0].group.closeAll()
	return summarize(errs)
}

// summarize joins the workers' errors (errs[i] is worker i's). A worker
// that panicked is the cause. The others it stopped are named in one
// ErrAborted: their errors (what they held when stopped) are its
// consequences. Not a worker that stalled, though: it sat idle for
// IdleTimeout, which an abort, waking every worker, does not explain, so
// its error is kept whole.
func summarize(errs []error) error {
	var panics, others []error
	var aborted []int
	for i, err := range errs {
		var pe *PanicError
		switch {
		case errors.As(err, &pe):
			panics = append(panics, err)
		case errors.Is(err, ErrAborted) && !errors.Is(err, ErrStalled):
			aborted = append(aborted, i)
		case err != nil:
			others = append(others, err)
		}
	}
	if len(panics) == 0 {
		return errors.Join(errs...)
	}
	if len(aborted) > 0 {
		others = append(others, fmt.Errorf("dataflow: workers %v stopped: %w", aborted, ErrAborted))
	}
	return errors.Join(append(panics, others...)...)
}
