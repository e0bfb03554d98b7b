// Command shardflow writes, replays and inspects durable shards of updates.
// Run `shardflow --help` for the commands, or `go run ./cmd/shardflow demo`
// for a first look.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/cli"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A reader of the output that goes away (replay | head) makes writes
	// fail with EPIPE rather than kill the process, so a replay still
	// shuts down cleanly and expires its readers.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	go func() {
		// After the first signal the command shuts down cleanly; a second
		// one kills it as usual.
		<-ctx.Done()
		stop()
	}()
	return cli.Main(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}
