package dataflow

import "sync/atomic"

// Button is an operator's two-phase shutdown button, shared by the
// instances of the operator on every worker.
//
// A press on one worker (Press, or a ShutdownToken) is broadcast to all
// peers. The operator's logic checks the button each time it runs:
//
//   - LocalPressed but not AllPressed: keep every capability and stop
//     draining inputs, so that no frontier moves. Another worker's instance
//     may still be producing, and a frontier advanced by this worker alone
//     could pass times that instance will still send at.
//   - AllPressed: drop every capability and discard (drain without
//     processing) whatever arrives, until the input frontiers are empty.
//
// Receiving a peer's press activates the operator.
type Button struct {
	op      *operator
	pressed []bool // by worker index, as seen by this worker
	count   int
	// tokenPressed is set by a ShutdownToken from any goroutine; the
	// worker turns it into a Press.
	tokenPressed atomic.Bool
}

func newButton(op *operator, peers int) *Button {
	return &Button{op: op, pressed: make([]bool, peers)}
}

// Press presses the button on this worker and tells every peer. It must be
// called on the worker's goroutine (a ShutdownToken works from any).
func (b *Button) Press() {
	w := b.op.w
	if b.pressed[w.index] {
		return
	}
	b.pressed[w.index] = true
	b.count++
	if !b.op.dead {
		for p := range w.peers {
			if p != w.index {
				w.fabric.Send(Envelope{From: w.index, To: p, Kind: ControlEnvelope,
					dataflow: b.op.df.dataflowIndex(), shape: b.op.df.dataflowShape(), channel: b.op.index})
			}
		}
	}
	w.activate(b.op)
}

func (b *Button) remotePress(from int) {
	if b.pressed[from] {
		return
	}
	b.pressed[from] = true
	b.count++
	b.op.w.activate(b.op)
}

// LocalPressed reports whether this worker has pressed the button.
func (b *Button) LocalPressed() bool { return b.pressed[b.op.w.index] }

// AllPressed reports whether every worker has pressed the button (as far as
// this worker has heard).
func (b *Button) AllPressed() bool { return b.count == len(b.pressed) }

// ShutdownToken is the program's handle on an operator's shutdown button.
// Dropping (or pressing) it presses the button on the token's worker. Any
// goroutine may use it.
type ShutdownToken struct {
	button *Button
}

// Press presses the button; the worker acts on it at its next step.
func (t *ShutdownToken) Press() {
	t.button.tokenPressed.Store(true)
	t.button.op.w.syncActivate(t.button.op)
}

// Drop releases the token, which presses the button.
func (t *ShutdownToken) Drop() { t.Press() }

// ShutdownPhase is where an operator stands in the two-phase shutdown.
type ShutdownPhase uint8

const (
	// Running: nobody has pressed the button on this worker.
	Running ShutdownPhase = iota
	// Holding: this worker pressed, some peer has not (as far as this
	// worker knows). Keep every capability; do not drain inputs.
	Holding
	// Draining: every worker pressed. Drop every capability and discard
	// whatever still arrives until the input frontiers are empty.
	Draining
)

func (p ShutdownPhase) String() string {
	switch p {
	case Running:
		return "running"
	case Holding:
		return "holding"
	case Draining:
		return "draining"
	}
	return "unknown"
}

// Phase returns the operator's shutdown phase on this worker. A peer's press
// alone does not leave Running: each worker decides for itself to stop.
func (b *Button) Phase() ShutdownPhase {
	switch {
	case !b.LocalPressed():
		return Running
	case !b.AllPressed():
		return Holding
	}
	return Draining
}
