package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/persist/location/postgres/pgtest"
)

// TestMain closes the benchmarks' shared environment, then fails the run if
// any goroutine is left (the measures start workers, fetchers, listeners and
// a heap sampler; all must be gone).
//
// Started with listenerBlobEnv set, the test binary is instead the other
// process of P5 (see listenerCommand).
func TestMain(m *testing.M) {
	if blob := os.Getenv(listenerBlobEnv); blob != "" {
		err := ServeListener(context.Background(), blob, os.Getenv(listenerConsensusEnv), os.Getenv(listenerShardEnv), os.Stdin, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// A throwaway PostgreSQL for TestP5Postgres, if one can be had, started
	// only if it runs: the other measures neither wait for it nor run
	// beside it.
	code := pgtest.MainLazy(m)
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
	listenerBlobEnv      = "SHARDFLOW_BENCH_LISTENER_BLOB"
	listenerConsensusEnv = "SHARDFLOW_BENCH_LISTENER_CONSENSUS"
	listenerShardEnv     = "SHARDFLOW_BENCH_LISTENER_SHARD"
)

// listenerCommand runs this test binary as P5's other process.
func listenerCommand(ctx context.Context, blobURL, consensusURL, shard string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), listenerBlobEnv+"="+blobURL, listenerConsensusEnv+"="+consensusURL, listenerShardEnv+"="+shard)
	return cmd
}
