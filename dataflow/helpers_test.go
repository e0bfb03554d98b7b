package dataflow_test

import (
	"errors"
	"time"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }
func errorsIs(err, target error) bool     { return errors.Is(err, target) }

// stallTimeout is Config.IdleTimeout for the tests' Execute: a dataflow
// that stops making progress fails with the capabilities that hold it
// open, rather than hanging until go test's own timeout.
const stallTimeout = 30 * time.Second
