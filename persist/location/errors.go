package location

import (
	"errors"
	"fmt"
)

// ExternalError is a failure of a Blob or Consensus backend. Retrying
// depends only on Indeterminate: a determinate failure definitely did not
// happen; an indeterminate one (a timeout, a connection lost after a commit
// was sent) may have.
type ExternalError struct {
	Op            string // "consensus compare-and-set", "blob get", ...
	Indeterminate bool
	Err           error
}

func (e *ExternalError) Error() string {
	kind := "failed"
	if e.Indeterminate {
		kind = "may have happened"
	}
	return fmt.Sprintf("location: %s %s: %v", e.Op, kind, e.Err)
}

func (e *ExternalError) Unwrap() error { return e.Err }

// Determinate wraps err as a failure that definitely did not happen.
func Determinate(op string, err error) error {
	if err == nil {
		return nil
	}
	return &ExternalError{Op: op, Err: err}
}

// Indeterminate wraps err as a failure that may have happened.
func Indeterminate(op string, err error) error {
	if err == nil {
		return nil
	}
	return &ExternalError{Op: op, Indeterminate: true, Err: err}
}

// IsIndeterminate reports whether err says the operation may have happened.
// An *ExternalError in err's chain says whether. Failing that, an error in
// the chain with a method Determinate() bool that returns true says the
// operation certainly did not happen: persist's refusals have one (an
// append refused for its expected upper or its updates, a reader found
// expired, say). Any other error is treated as indeterminate: without
// knowing, assume the worst.
func IsIndeterminate(err error) bool {
	if err == nil {
		return false
	}
	var e *ExternalError
	if errors.As(err, &e) {
		return e.Indeterminate
	}
	var d interface{ Determinate() bool }
	return !errors.As(err, &d) || !d.Determinate()
}
