package dataflow

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Forever, passed to StepOrPark, parks without a timeout.
const Forever time.Duration = -1

// Worker runs dataflows. One goroutine owns a worker and everything in it:
// every method except those documented otherwise must be called from that
// goroutine, and nothing inside is locked. Operators are plain values; the
// worker runs those that were activated, each at most once per Step.
type Worker struct {
	index, peers int
	fabric       Fabric
	group        *group // shared with the workers of the same NewWorkers call

	// byIndex holds every dataflow ever created, by creation index; an
	// entry is nil once the dataflow completed (or failed to build).
	byIndex []dataflowRuntime
	// dataflows lists the dataflows that have not completed.
	dataflows []dataflowRuntime
	// early holds envelopes for dataflows this worker has not built yet,
	// or is building: a build function may step the worker.
	early map[int][]Envelope
	// building lists the indexes of the dataflows being built (nested
	// builds push and pop); held, their operators activated meanwhile,
	// queued again once their dataflow is built.
	building []int
	held     []*operator

	// queue lists activated operators, each once (operator.queued).
	queue, later []*operator
	steps        uint64
	current      *operator // the operator whose logic is running, if any

	inbox []Envelope
	wake  chan struct{}
	sync  struct {
		pending atomic.Bool
		// sent counts the activations sent from other goroutines
		// (Activations); each is counted after pending is set, so a Step
		// that begins after the count has grown finds pending set.
		sent atomic.Uint64
		mu   struct {
			sync.Mutex
			// ops holds each operator at most once (operator.syncListed),
			// so a goroutine firing a SyncActivator in a loop, or after the
			// worker closed, cannot grow it without bound.
			ops []*operator
			// closed is set by Close: activations are dropped from then on.
			closed bool
		}
		taken []*operator
	}

	// live lists every capability not yet dropped; capability.live is the
	// index of a capability here.
	live   []liveCapability
	closed bool
	// abort is shared by the workers of one Execute: set when one of them
	// panicked, it makes the others' Step panic with errAborted.
	abort *atomic.Bool
}

type liveCapability interface {
	info() CapabilityInfo
	setLive(i int)
	dataflowIndex() int
}

// operator is the type-independent part of an operator, what the worker
// schedules.
type operator struct {
	name  string
	index int
	w     *Worker
	df    dataflowRuntime
	logic func()
	post  func() // after logic: flush outputs, expire capability refs

	queued bool
	// dfQueued counts the queued operators of the operator's dataflow: a
	// dataflow is not complete while one of them still has to run.
	dfQueued *int
	ranAt    uint64 // the step the operator last ran in
	dead     bool   // its dataflow completed
	// syncDead is dead for other goroutines, under the worker's sync.mu:
	// a SyncActivator of a dead operator does nothing.
	syncDead bool
	// syncListed is set while the operator waits in the worker's list of
	// activations from other goroutines; guarded by Worker.sync.mu.
	syncListed bool

	button *Button
}

// dataflowRuntime is what the worker needs of a dataflow, whatever its
// timestamp type.
type dataflowRuntime interface {
	dataflowName() string
	dataflowIndex() int
	dataflowShape() uint64
	receive(e Envelope)
	propagate()
	flush()
	done() bool
	// quiet reports whether the dataflow has no progress to report or
	// propagate.
	quiet() bool
	retire()
}

// NewWorker returns a single worker (index 0 of 1) to be stepped by the
// caller on its own goroutine.
func NewWorker() *Worker { return NewWorkers(Config{Workers: 1})[0] }

// NewWorkers returns cfg.Workers workers connected by cfg.Fabric (a
// NewChannelFabric if nil). The caller steps each, from one goroutine per
// worker or all from one goroutine (as dataflowtest does). Every worker must
// build the same dataflows in the same order.
func NewWorkers(cfg Config) []*Worker {
	n := max(cfg.Workers, 1)
	f := cfg.Fabric
	if f == nil {
		f = NewChannelFabric(n)
	}
	ws := make([]*Worker, n)
	g := &group{shared: map[sharedKey]*sharedEntry{}}
	for i := range ws {
		w := &Worker{index: i, peers: n, fabric: f, group: g, wake: make(chan struct{}, 1), early: map[int][]Envelope{}}
		f.SetWaker(i, w.notify)
		ws[i] = w
	}
	return ws
}

// Index returns the worker's index among its peers.
func (w *Worker) Index() int { return w.index }

// Peers returns the number of workers.
func (w *Worker) Peers() int { return w.peers }

// notify wakes the worker if it is parked. Any goroutine may call it.
func (w *Worker) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) activate(op *operator) {
	if op.queued || op.dead {
		return
	}
	op.queued = true
	*op.dfQueued++
	w.queue = append(w.queue, op)
}

func (w *Worker) syncActivate(op *operator) {
	w.sync.mu.Lock()
	if w.sync.mu.closed || op.syncDead {
		w.sync.mu.Unlock()
		return
	}
	// Taking the lock even when op is already listed orders the caller's
	// writes before the step that runs op.
	if !op.syncListed {
		op.syncListed = true
		w.sync.mu.ops = append(w.sync.mu.ops, op)
	}
	w.sync.pending.Store(true)
	if h := testHookBetweenStores.Load(); h != nil {
		(*h)()
	}
	w.sync.sent.Add(1)
	w.sync.mu.Unlock()
	w.notify()
}

// Step receives messages from other workers and other goroutines, delivers
// frontier changes, runs every activated operator once and reports its
// progress. It reports whether any dataflow is still running.
func (w *Worker) Step() bool {
	if w.closed {
		panic("dataflow: Step on a closed worker")
	}
	if w.current != nil {
		panic("dataflow: Step called from the logic of operator " + w.current.name)
	}
	if w.abort != nil && w.abort.Load() {
		panic(errAborted{})
	}
	w.receive()
	w.drainSync()
	for _, df := range w.dataflows {
		df.propagate()
	}
	w.runQueue()
	for _, df := range w.dataflows {
		df.flush()
		df.propagate()
	}
	w.reap()
	return len(w.dataflows) > 0
}

// StepOrPark steps, first parking the worker for up to d if it is Idle: it
// wakes early on a message from another worker or a
// SyncActivator. d == 0 never parks; Forever parks without a timeout. It
// reports whether any dataflow is still running.
func (w *Worker) StepOrPark(d time.Duration) bool {
	w.Park(d)
	return w.Step()
}

// Park parks the worker for up to d if it is Idle and runs a dataflow, as
// StepOrPark does before its step, and reports whether it parked. Driving
// code that must note something between the wake-up and the step
// (Activations, say) calls Park and then Step.
func (w *Worker) Park(d time.Duration) bool {
	if d == 0 || len(w.dataflows) == 0 || !w.Idle() {
		return false
	}
	w.park(d)
	return true
}

// Activations counts the activations other goroutines have sent this worker
// (a SyncActivator fired, a ShutdownToken pressed) since it started; any
// goroutine may call it. Activations of operators whose dataflow has
// completed are not sent, so not counted. A Step that begins after
// Activations returned n runs the operators of the first n activations, or
// finds their dataflow completed since (a Step taken inside a build
// function holds those of the dataflow being built until it is built), so
// code that wants to know whether the worker has handled everything sent
// to it compares the count read before its last Step with the count now.
func (w *Worker) Activations() uint64 { return w.sync.sent.Load() }

// park waits for a wake-up for up to d (forever if d < 0), reporting
// whether one came.
func (w *Worker) park(d time.Duration) bool {
	if d < 0 {
		<-w.wake
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.wake:
		return true
	case <-t.C:
		return false
	}
}

// StepWhile steps while cond holds.
func (w *Worker) StepWhile(cond func() bool) {
	for cond() {
		w.Step()
	}
}

// Idle reports whether no operator is activated, no activation from
// another goroutine is waiting and no progress is left to report (a
// capability changed by driving code between steps, say); messages from
// other workers may still be waiting.
func (w *Worker) Idle() bool {
	if len(w.queue) > 0 || w.sync.pending.Load() {
		return false
	}
	for _, df := range w.dataflows {
		if !df.quiet() {
			return false
		}
	}
	return true
}

// Running reports the number of dataflows that have not completed.
func (w *Worker) Running() int { return len(w.dataflows) }

func (w *Worker) receive() {
	w.inbox = w.fabric.Receive(w.index, w.inbox[:0])
	for i, e := range w.inbox {
		w.deliver(e)
		w.inbox[i] = Envelope{}
	}
}

func (w *Worker) deliver(e Envelope) {
	if e.dataflow >= len(w.byIndex) || slices.Contains(w.building, e.dataflow) {
		w.early[e.dataflow] = append(w.early[e.dataflow], e)
		return
	}
	if df := w.byIndex[e.dataflow]; df != nil {
		df.receive(e)
	}
}

func (w *Worker) drainSync() {
	if !w.sync.pending.Load() {
		return
	}
	w.sync.mu.Lock()
	w.sync.taken, w.sync.mu.ops = w.sync.mu.ops, w.sync.taken[:0]
	for _, op := range w.sync.taken {
		op.syncListed = false // an activation from now on runs it again
	}
	w.sync.pending.Store(false)
	w.sync.mu.Unlock()
	for i, op := range w.sync.taken {
		if b := op.button; b != nil && b.tokenPressed.Load() && !op.dead {
			b.Press()
		}
		w.activate(op)
		w.sync.taken[i] = nil
	}
}

// built ends the build of dataflow index: its operators a step inside the
// build held back are queued again (a refused dataflow's are dead by the
// time they run, and only leave the queue).
func (w *Worker) built(index int) {
	w.building = w.building[:len(w.building)-1]
	kept := w.held[:0]
	for _, op := range w.held {
		if op.df.dataflowIndex() == index {
			w.queue = append(w.queue, op)
		} else {
			kept = append(kept, op)
		}
	}
	clear(w.held[len(kept):])
	w.held = kept
}

func (w *Worker) runQueue() {
	w.steps++
	for i := 0; i < len(w.queue); i++ {
		op := w.queue[i]
		w.queue[i] = nil
		if op.dead {
			op.queued = false
			*op.dfQueued--
			continue
		}
		if len(w.building) > 0 && slices.Contains(w.building, op.df.dataflowIndex()) {
			// Not before its dataflow is built (a build function may
			// step the worker): held apart, so the worker may park.
			w.held = append(w.held, op)
			continue
		}
		if op.ranAt == w.steps {
			w.later = append(w.later, op)
			continue
		}
		op.queued = false
		*op.dfQueued--
		op.ranAt = w.steps
		w.current = op
		op.logic()
		op.post()
		w.current = nil
	}
	w.queue = append(w.queue[:0], w.later...)
	clear(w.later)
	w.later = w.later[:0]
}

func (w *Worker) reap() {
	w.dataflows = slices.DeleteFunc(w.dataflows, func(df dataflowRuntime) bool {
		if !df.done() {
			return false
		}
		df.retire()
		return true
	})
}

func (w *Worker) addLive(c liveCapability) {
	c.setLive(len(w.live))
	w.live = append(w.live, c)
}

func (w *Worker) removeLive(i int) {
	last := len(w.live) - 1
	if i != last {
		w.live[i] = w.live[last]
		w.live[i].setLive(i)
	}
	w.live[last] = nil
	w.live = w.live[:last]
}

// LiveCapabilities lists the capabilities held on this worker that have not
// been dropped, with the operators holding them. A capability that stays
// here after its operator should have finished is a leak: it holds back
// every downstream frontier.
func (w *Worker) LiveCapabilities() []CapabilityInfo {
	out := make([]CapabilityInfo, 0, len(w.live))
	for _, c := range w.live {
		out = append(out, c.info())
	}
	slices.SortFunc(out, func(a, b CapabilityInfo) int {
		if a.Dataflow != b.Dataflow {
			if a.Dataflow < b.Dataflow {
				return -1
			}
			return 1
		}
		return a.OperatorIndex - b.OperatorIndex
	})
	return out
}

// Close shuts the worker down. It returns a *LeakError listing the
// capabilities still held, joined with ErrIncomplete if dataflows are still
// running. The worker must not be stepped afterwards.
func (w *Worker) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	if len(w.live) > 0 {
		errs = append(errs, &LeakError{Capabilities: w.LiveCapabilities()})
	}
	if len(w.dataflows) > 0 {
		errs = append(errs, ErrIncomplete)
	}
	for _, df := range w.dataflows {
		df.retire()
	}
	w.dataflows = nil
	w.sync.mu.Lock()
	w.sync.mu.closed = true
	clear(w.sync.mu.ops)
	w.sync.mu.ops = nil
	w.sync.pending.Store(false)
	w.sync.mu.Unlock()
	w.fabric.SetWaker(w.index, nil)
	return errors.Join(errs...)
}

// testHookBetweenStores, if set (by tests), runs in syncActivate after
// pending is set and before the activation is counted.
var testHookBetweenStores atomic.Pointer[func()]
