package replay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/operators"
)

// Stream is the kind of stream Run prints.
type Stream = dataflow.Stream[frontier.Time, render.Update]

// Config says what to run and where to print it.
type Config struct {
	// Workers is the number of dataflow workers (at least 1).
	Workers int
	// Build builds the source on one worker's scope. fail, which any
	// goroutine may call, reports a data error after which the source's
	// frontier is frozen. stop shuts the source down; any goroutine may call
	// it, and it must wake the worker (pressing a ShutdownToken does).
	Build func(s *dataflow.Scope[frontier.Time], fail func(error)) (out *Stream, stop func())
	// Settled, if set, reports whether the source's own goroutines on
	// worker (a fetch, a listen) can deliver nothing more by themselves. Run
	// calls it on that worker's goroutine after each step and counts a
	// worker that is not settled as busy, so a slow fetch is never taken
	// for quiescence. Nil: the workers' idleness alone decides.
	Settled func(worker int) bool
	// FrozenAt, if set, says at which time a data error holds the
	// frontier. Of several errors, Run reports the one at the least time
	// (the first of those), which is where the frontier stops; without
	// it, the first error.
	FrozenAt func(error) (frontier.Time, bool)
	// Printer receives the output, on Run's goroutine.
	Printer render.Printer
	// Printed, if set, is told how many updates each flush printed.
	Printed func(n int)
}

// FrozenError says the source froze on a data error, at Frontier.
type FrozenError struct {
	Err      error
	Frontier []uint64
}

func (e *FrozenError) Error() string {
	return fmt.Sprintf("replay: frozen at frontier %s: %v", render.FrontierJSON(e.Frontier), e.Err)
}

func (e *FrozenError) Unwrap() error { return e.Err }

// quietInterval is how long Run watches a seemingly quiescent dataflow for
// a step before believing it. Workers park without a timeout, so any step in
// the interval is real work.
const quietInterval = 20 * time.Millisecond

// settlePoll is how often a worker whose source is not settled looks again.
const settlePoll = 2 * time.Millisecond

// Run runs the dataflow and prints its captured stream; see the package
// documentation for how it ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Workers < 1 {
		panic("replay: Workers must be at least 1")
	}
	r := newRunner(cfg)
	done := make(chan error, 1)
	go func() { done <- dataflow.Execute(dataflow.Config{Workers: cfg.Workers, Fabric: r.fabric}, r.worker) }()
	return r.drive(ctx, done)
}

// runner is the state Run shares with its workers.
type runner struct {
	cfg    Config
	fabric *countingFabric
	links  []*operators.EventLink[frontier.Time, render.Update]
	wake   chan struct{}
	failed chan struct{} // signalled when fail queues an error

	stopping atomic.Bool
	mu       struct {
		sync.Mutex
		stops  []func()
		failed []error // queued by fail, taken by drive
	}
	steps []atomic.Uint64
	idle  []atomic.Bool
	// workers[i] is worker i once it has started; handled[i] is its
	// Activations count read before its last step began: the activations
	// that step has run. A worker sent more than that is busy, whatever its
	// idle flag (set after its last step) says.
	workers []atomic.Pointer[dataflow.Worker]
	handled []atomic.Uint64

	// Owned by drive's goroutine.
	frontier *frontier.MutableAntichain[frontier.Time]
	pending  map[frontier.Time][]render.Update
	silent   bool // after a cancel or a freeze nothing more is printed
	printErr error
}

func newRunner(cfg Config) *runner {
	n := cfg.Workers
	r := &runner{
		cfg:      cfg,
		fabric:   &countingFabric{Fabric: dataflow.NewChannelFabric(n)},
		links:    make([]*operators.EventLink[frontier.Time, render.Update], n),
		wake:     make(chan struct{}, 1),
		failed:   make(chan struct{}, 1),
		steps:    make([]atomic.Uint64, n),
		idle:     make([]atomic.Bool, n),
		workers:  make([]atomic.Pointer[dataflow.Worker], n),
		handled:  make([]atomic.Uint64, n),
		frontier: frontier.NewMutableAntichainAt[frontier.Time](0),
		pending:  map[frontier.Time][]render.Update{},
	}
	// A worker that receives envelopes is busy until its step is over: its
	// idle flag, set after its last step, must not stand for it meanwhile
	// (the envelopes no longer count as in flight, and the step that
	// handles them has not been counted yet).
	r.fabric.receiving = func(w int) { r.idle[w].Store(false) }
	// Each worker's capture starts with one count at the minimum time.
	r.frontier.Update(0, int64(n-1))
	for i := range r.links {
		r.links[i] = operators.NewEventLink[frontier.Time, render.Update]()
		r.links[i].SetWaker(r.notify)
	}
	return r
}

func (r *runner) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// earlier reports whether data error a holds the frontier at an earlier
// time than b (see Config.FrozenAt).
func (r *runner) earlier(a, b error) bool {
	if r.cfg.FrozenAt == nil {
		return false
	}
	ta, aok := r.cfg.FrozenAt(a)
	tb, bok := r.cfg.FrozenAt(b)
	return aok && bok && ta < tb
}

// fail queues a data error for drive, which keeps the one to report.
func (r *runner) fail(err error) {
	r.mu.Lock()
	r.mu.failed = append(r.mu.failed, err)
	r.mu.Unlock()
	select {
	case r.failed <- struct{}{}:
	default:
	}
	r.notify()
}

// takeFailed returns the errors fail queued since the last call.
func (r *runner) takeFailed() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := r.mu.failed
	r.mu.failed = nil
	return errs
}

// worker builds the dataflow on w and steps it until it completes or Run
// asks it to stop; Execute then steps it to completion.
func (r *runner) worker(w *dataflow.Worker) {
	i := w.Index()
	r.workers[i].Store(w)
	var stop func()
	dataflow.Dataflow(w, "replay", func(s *dataflow.Scope[frontier.Time]) {
		var out *Stream
		out, stop = r.cfg.Build(s, r.fail)
		operators.Capture(out, r.links[i])
	})
	r.mu.Lock()
	r.mu.stops = append(r.mu.stops, stop)
	r.mu.Unlock()
	if r.stopping.Load() {
		stop() // Run asked to stop before this worker registered
	}
	settled := true
	for !r.stopping.Load() && w.Running() > 0 {
		park := dataflow.Forever
		if !settled {
			// A source goroutine may finish without a step to follow (its
			// last delivery's activation can come before it counts itself
			// done): look again soon.
			park = settlePoll
		}
		w.Park(park)
		sent := w.Activations()
		w.Step()
		settled = r.cfg.Settled == nil || r.cfg.Settled(i)
		r.steps[i].Add(1)
		r.handled[i].Store(sent)
		r.idle[i].Store(w.Idle() && settled)
	}
}

// stopAll presses every registered stop; workers registering later press
// their own.
func (r *runner) stopAll() {
	r.stopping.Store(true)
	r.mu.Lock()
	stops := slices.Clone(r.mu.stops)
	r.mu.Unlock()
	for _, s := range stops {
		s()
	}
}

func (r *runner) drive(ctx context.Context, done <-chan error) error {
	var (
		frozen  error // the data error, once seen
		quiet   []uint64
		ticker  *time.Ticker
		tick    <-chan time.Time
		ctxDone = ctx.Done()
		result  error
	)
	// record keeps the first data error, unless a later one is at an
	// earlier time (fetches finish in any order): the error reported is
	// the one that holds the frontier where it is reported.
	record := func(err error) {
		if frozen != nil {
			if !r.earlier(err, frozen) {
				return
			}
			frozen = err
			return
		}
		frozen = err
		ticker = time.NewTicker(quietInterval)
		tick = ticker.C
	}
	// recordQueued takes the errors fail queued that this loop has not
	// picked yet: select picks among ready cases at random, so a stop or
	// the end may come first.
	recordQueued := func() {
		for _, err := range r.takeFailed() {
			record(err)
		}
	}
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		select {
		case <-r.wake:
		case <-ctxDone:
			ctxDone = nil
			recordQueued()
			if frozen != nil && result == nil {
				// Asked to stop while waiting for quiescence: report the
				// freeze where the frontier stands now.
				result = r.reportFrozen(frozen)
				tick = nil
			}
			r.silent = true
			r.stopAll()
		case <-r.failed:
			recordQueued()
		case <-tick:
			r.process()
			if !r.quiescent() {
				quiet = nil
				break
			}
			steps := r.stepCounts()
			if quiet == nil || !slices.Equal(quiet, steps) {
				quiet = steps
				break
			}
			// Quiescent: nothing moved over a whole interval.
			tick = nil
			result = r.reportFrozen(frozen)
			r.silent = true
			r.stopAll()
		case err := <-done:
			recordQueued()
			r.process()
			if !r.silent && r.printErr == nil {
				r.printErr = r.cfg.Printer.Flush()
			}
			if err != nil {
				return fmt.Errorf("replay: dataflow: %w", err)
			}
			if r.printErr != nil {
				return fmt.Errorf("replay: printing: %w", r.printErr)
			}
			if result == nil && frozen != nil {
				// The dataflow finished before it was seen quiescent.
				result = &FrozenError{Err: frozen, Frontier: r.frontierTimes()}
			}
			return result
		}
		r.process()
		if r.printErr != nil && !r.silent {
			r.silent = true
			r.stopAll() // output is gone (a closed pipe): stop working for it
		}
	}
}

// reportFrozen prints the freeze at the current frontier.
func (r *runner) reportFrozen(err error) *FrozenError {
	f := r.frontierTimes()
	if !r.silent && r.printErr == nil {
		r.printErr = errors.Join(r.cfg.Printer.Error(err.Error(), f), r.cfg.Printer.Flush())
	}
	return &FrozenError{Err: err, Frontier: f}
}

// quiescent reports whether every worker is idle, has run every activation
// sent to it, and no envelope is in flight between workers.
func (r *runner) quiescent() bool {
	if r.fabric.inflight.Load() != 0 {
		return false
	}
	for i := range r.idle {
		w := r.workers[i].Load()
		if w == nil || !r.idle[i].Load() {
			return false
		}
		// handled is read before the count: it only grows, up to the
		// count it was read from, so equal counts mean none was sent
		// since the last completed step began. (The idle flag, read
		// before both, may be older than handled; that step then
		// completed between them, and the step counts drive compares
		// across two ticks tell.)
		if r.handled[i].Load() != w.Activations() {
			return false
		}
	}
	return true
}

func (r *runner) stepCounts() []uint64 {
	out := make([]uint64, len(r.steps))
	for i := range r.steps {
		out[i] = r.steps[i].Load()
	}
	return out
}

func (r *runner) frontierTimes() []uint64 {
	f := r.frontier.Frontier()
	out := make([]uint64, 0, f.Len())
	for _, t := range f.Elements() {
		out = append(out, uint64(t))
	}
	return out
}

// process reads every captured event, printing whenever the frontier moves.
func (r *runner) process() {
	for _, l := range r.links {
		for {
			ev, ok := l.Next()
			if !ok {
				break
			}
			switch ev.Kind {
			case operators.MessagesEvent:
				// Bucket by each update's own time: a source may send
				// an update at an earlier time than its own (a shard
				// source sends a part's rows at the batch's lower).
				if !r.silent {
					for _, u := range ev.Data {
						r.pending[frontier.Time(u.Time)] = append(r.pending[frontier.Time(u.Time)], u)
					}
				}
			case operators.ProgressEvent:
				if changes := r.frontier.UpdateIter(ev.Progress); len(changes) > 0 && !r.silent {
					r.flush()
				}
			}
		}
	}
}

// flush prints the updates at times the frontier has passed, then the
// frontier. A sum of diffs no int64 holds stops the output there.
func (r *runner) flush() {
	if r.printErr != nil {
		return // output stopped at the failure
	}
	var ready []frontier.Time
	for t := range r.pending {
		if !r.frontier.LessEqual(t) {
			ready = append(ready, t)
		}
	}
	slices.Sort(ready)
	for _, t := range ready {
		ups, err := render.Consolidate(r.pending[t])
		delete(r.pending, t)
		if err != nil {
			// A diff that cannot be printed: print nothing wrong, stop.
			r.printErr = err
			return
		}
		if err := r.cfg.Printer.Updates(ups); err != nil {
			r.printErr = err // the output failed: print nothing more
			return
		}
		if r.cfg.Printed != nil {
			r.cfg.Printed(len(ups))
		}
	}
	r.printErr = r.cfg.Printer.Frontier(r.frontierTimes())
}
