package dataflow

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrLeakedCapabilities is matched (errors.Is) by a *LeakError.
	ErrLeakedCapabilities = errors.New("dataflow: leaked capabilities")
	// ErrCycle is matched by a *GraphError for a cycle that does not
	// advance time.
	ErrCycle = errors.New("dataflow: cycle without a time-advancing feedback edge")
	// ErrUnconnectedLoop is matched by a *GraphError for a feedback edge
	// whose Connect was never called.
	ErrUnconnectedLoop = errors.New("dataflow: feedback edge never connected")
	// ErrNotDelayed is matched by a *CapabilityError: the requested time is
	// not at or after the capability's time.
	ErrNotDelayed = errors.New("dataflow: time is not at or after the capability")
	// ErrDropped is matched by a *CapabilityError: the capability was
	// already dropped.
	ErrDropped = errors.New("dataflow: capability already dropped")
	// ErrSessionExpired is matched by the *CapabilityError a Session
	// panics with when used after its capability was dropped or
	// downgraded, or after its CapabilityRef expired.
	ErrSessionExpired = errors.New("dataflow: session used after its capability changed or expired")
	// ErrIncomplete is returned by Close when dataflows have not finished.
	ErrIncomplete = errors.New("dataflow: dataflows did not complete")
	// ErrStalled is returned by Execute for a worker that sat idle for
	// Config.IdleTimeout with dataflows still running.
	ErrStalled = errors.New("dataflow: worker stalled with dataflows running")
	// ErrAborted is returned by Execute, beside a *PanicError, for the
	// workers the panic stopped.
	ErrAborted = errors.New("dataflow: aborted because another worker failed")
)

// CapabilityInfo describes a live capability: who holds it and at what time.
type CapabilityInfo struct {
	Worker   int
	Dataflow string
	Operator string
	// OperatorIndex is the operator's index within its dataflow.
	OperatorIndex int
	Output        int
	// Time is the capability's time (a frontier.Timestamp).
	Time any
}

func (c CapabilityInfo) String() string {
	return fmt.Sprintf("%s/%s (op %d) output %d at %v on worker %d",
		c.Dataflow, c.Operator, c.OperatorIndex, c.Output, c.Time, c.Worker)
}

// LeakError lists the capabilities still held when a worker shut down.
type LeakError struct {
	Capabilities []CapabilityInfo
}

func (e *LeakError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dataflow: %d leaked capabilities:", len(e.Capabilities))
	for _, c := range e.Capabilities {
		b.WriteString(" ")
		b.WriteString(c.String())
		b.WriteString(";")
	}
	return b.String()
}

// Is matches ErrLeakedCapabilities.
func (e *LeakError) Is(target error) bool { return target == ErrLeakedCapabilities }

// GraphError reports a dataflow graph that cannot be tracked.
type GraphError struct {
	Dataflow string
	Reason   error // ErrCycle or ErrUnconnectedLoop
	// Path names the operators along the offending cycle, or the loop.
	Path []string
}

func (e *GraphError) Error() string {
	// The reasons are this package's sentinels, already prefixed.
	reason := strings.TrimPrefix(fmt.Sprint(e.Reason), "dataflow: ")
	return fmt.Sprintf("dataflow: %s: %s: %s", e.Dataflow, reason, strings.Join(e.Path, " -> "))
}

func (e *GraphError) Unwrap() error { return e.Reason }

// CapabilityError reports a refused capability operation.
type CapabilityError struct {
	Op       string
	Operator string
	Time     any // the capability's time
	Request  any // the requested time
	Reason   error
}

func (e *CapabilityError) Error() string {
	return fmt.Sprintf("dataflow: %s on capability of %s at %v to %v: %v", e.Op, e.Operator, e.Time, e.Request, e.Reason)
}

func (e *CapabilityError) Unwrap() error { return e.Reason }

// SummaryError is the panic value when a feedback summary does not strictly
// advance a time.
type SummaryError struct {
	Time, Result any
}

func (e *SummaryError) Error() string {
	return fmt.Sprintf("dataflow: feedback summary maps %v to %v, which is not strictly later", e.Time, e.Result)
}

// PanicError carries a panic raised on a worker run by Execute.
type PanicError struct {
	Worker int
	Value  any
	Stack  []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("dataflow: worker %d panicked: %v\n%s", e.Worker, e.Value, e.Stack)
}
