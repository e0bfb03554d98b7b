package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses of the shardflow command.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	ExitFrozen  = 3
	ExitVerify  = 4
)

// exitError carries the status a command's failure exits with. An error
// leaving cobra without one came from cobra's own parsing (unknown command,
// bad flag) and is a usage error.
type exitError struct {
	code int
	err  error
	// quiet: the command already reported the failure on its output.
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a usage error: the command line itself is wrong.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// failure marks err as an ordinary failure (status 1), unless it already
// carries a status.
func failure(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: ExitFailure, err: err}
}

// statusOf returns the exit status err calls for.
func statusOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}

// noArgs refuses positional arguments, which no command takes. The usual
// slip is a shard name without its flag, so a command that wants --shard
// and has none says how to give it.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if len(args) == 1 && cmd.Flags().Lookup("shard") != nil && !cmd.Flags().Changed("shard") {
		return usageErrorf("%s takes no arguments, got %q: name the shard with --shard %s", cmd.CommandPath(), args[0], args[0])
	}
	return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
}
