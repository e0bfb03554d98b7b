package dataflow

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A panic's summary folds the workers it stopped into one ErrAborted, but
// keeps whole the error of a worker that stalled: an abort wakes every
// worker, so a stall beside one is a wake-up lost, not a consequence.
// (It used to be folded in, and a lost abort wake-up passed as the abort.)
func TestSummarizeKeepsAStallBesideAnAbort(t *testing.T) {
	held := errors.New("held: op 3 at time 5")
	errs := []error{
		&PanicError{Worker: 0, Value: "boom"},
		fmt.Errorf("dataflow: worker 1: %w", errors.Join(ErrAborted, held)),
		fmt.Errorf("dataflow: worker 2: %w", errors.Join(ErrAborted, ErrStalled, held)),
		nil,
	}
	err := summarize(errs)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Worker != 0 {
		t.Fatalf("summary %v does not carry worker 0's panic", err)
	}
	if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "dataflow: worker 2:") {
		t.Errorf("summary %q lost worker 2's stall", err)
	}
	if !strings.Contains(err.Error(), "workers [1] stopped") {
		t.Errorf("summary %q does not name worker 1 as stopped by the panic", err)
	}
	if strings.Count(err.Error(), held.Error()) != 1 {
		t.Errorf("summary %q should show what only the stalled worker held", err)
	}
}
