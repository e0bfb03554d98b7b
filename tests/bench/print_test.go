package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPrintReport runs the measures and prints the table, when asked to by
// the environment (until a command does it):
//
//	SHARDFLOW_BENCH=quick go test -run TestPrintReport -v ./tests/bench
//	SHARDFLOW_BENCH=full SHARDFLOW_BENCH_ONLY=P1,P3 go test -timeout 30m -run TestPrintReport -v ./tests/bench
//
// P5's other process is this test binary, run again.
func TestPrintReport(t *testing.T) {
	mode := os.Getenv("SHARDFLOW_BENCH")
	if mode == "" {
		t.Skip("set SHARDFLOW_BENCH=quick or full to print a report")
	}
	cfg := Config{Quick: mode == "quick", Progress: os.Stderr, ListenerCommand: listenerCommand}
	if only := os.Getenv("SHARDFLOW_BENCH_ONLY"); only != "" {
		cfg.Only = strings.Split(only, ",")
	}
	start := time.Now()
	rep, err := Run(context.Background(), cfg)
	if werr := rep.WriteTable(os.Stdout); werr != nil {
		t.Error(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
