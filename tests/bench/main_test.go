package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"go.uber.org/goleak"
)

// TestMain closes the benchmarks' shared environment, then fails the run if
// any goroutine is left (the measures start workers, fetchers, listeners and
// a heap sampler; all must be gone).
//
// Started with listenerDirEnv set, the test binary is instead the other
// process of P5 (see listenerCommand).
func TestMain(m *testing.M) {
	if dir := os.Getenv(listenerDirEnv); dir != "" {
		if err := ServeListener(context.Background(), dir, os.Getenv(listenerShardEnv), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if err := closeBenchEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = max(code, 1)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	listenerDirEnv   = "SHARDFLOW_BENCH_LISTENER_DIR"
	listenerShardEnv = "SHARDFLOW_BENCH_LISTENER_SHARD"
)

// listenerCommand runs this test binary as P5's other process.
func listenerCommand(ctx context.Context, dir, shard string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), listenerDirEnv+"="+dir, listenerShardEnv+"="+shard)
	return cmd
}
