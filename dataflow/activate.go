package dataflow

// Activator schedules an operator on its worker's next step. It may be used
// only on the worker's goroutine (use SyncActivator from others).
type Activator struct {
	op *operator
}

// Activate schedules the operator. Activating an operator whose dataflow
// has completed does nothing.
func (a *Activator) Activate() { a.op.w.activate(a.op) }

// SyncActivator schedules an operator from any goroutine, waking its worker
// if it is parked in StepOrPark. This is how goroutines doing I/O on behalf
// of an operator tell it that results are waiting.
type SyncActivator struct {
	op *operator
}

// Activate schedules the operator and wakes the worker. Any goroutine may
// call it; after the dataflow has completed it does nothing.
func (a *SyncActivator) Activate() { a.op.w.syncActivate(a.op) }
