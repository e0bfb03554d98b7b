package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/tests/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	var (
		cfg      bench.Config
		only     string
		asJSON   bool
		noRemote bool
	)
	cmd := &cobra.Command{
		Use:   "bench [--quick] [--only P1,P3] [--rows N] [--parts N] [--latency D] [--p6-rows N] [--json]",
		Short: "Measure shardflow against plain-Go baselines and print a table",
		Long: `bench runs shardflow's benchmark suite on this machine and prints one row
per measure: the shardflow figure, the baseline figure (the same work as a
plain Go loop, or as a goroutine-per-stage channel pipeline) and their ratio,
with the goal and whether it was met.

  P1 replay throughput of a generated shard, 1 and 2 workers, vs decoding
     the same Parquet parts in a plain loop with the same concurrency
  P2 effective fetch concurrency behind a blob that adds --latency per read
  P3 runtime overhead: 10 Map stages vs a plain loop and a channel pipeline
  P4 cost of one Step per idle operator (1000 idle operators)
  P5 write-to-visible latency, p50/p99, listener in this and another process
  P6 peak heap while replaying a shard many times the fetch memory budget
     (over fifty times at the default --p6-rows; its row says how many)

Each figure is the median of several runs after a warm-up. Shards are
generated in a temporary directory (not --location) and removed afterwards;
with --postgres, P5's state goes in a schema of its own in that database,
dropped afterwards. A run that fails part way prints the rows it measured.
Figures from a loaded machine are not comparable with an idle one's.`,
		Example: `  shardflow bench --quick            # everything, in under a minute
  shardflow bench --only P1,P2 --rows 2000000 --parts 128
  shardflow bench --json > bench.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.blob != "" {
				// Accepted and ignored, they would read as if the bench
				// measured that storage.
				return usageErrorf("--blob and --consensus: bench makes its own storage in a temporary directory (--postgres adds PostgreSQL to P5)")
			}
			for _, id := range strings.Split(only, ",") {
				if id = strings.TrimSpace(strings.ToUpper(id)); id != "" {
					if len(id) != 2 || id[0] != 'P' || id[1] < '1' || id[1] > '6' {
						return usageErrorf("--only: unknown measure %q (want P1 to P6)", id)
					}
					cfg.Only = append(cfg.Only, id)
				}
			}
			if cfg.Rows < 0 || cfg.Parts < 0 || cfg.Runs < 0 || cfg.Latency < 0 || cfg.P6Rows < 0 {
				return usageErrorf("--rows, --parts, --runs, --latency and --p6-rows must not be negative")
			}
			if cfg.PostgresURL != "" {
				// Checked now, not when P5 reaches it minutes later.
				if err := location.CheckConsensusURL(cfg.PostgresURL); err != nil {
					return usageErrorf("--postgres: %v", err)
				}
			}
			cfg.Progress = g.env.Stderr
			if !noRemote {
				self, err := os.Executable()
				if err == nil {
					cfg.ListenerCommand = func(ctx context.Context, blobURL, consensusURL, shard string) *exec.Cmd {
						return exec.CommandContext(ctx, self, "bench-listener", "--blob", blobURL, "--consensus", consensusURL, "--bench-shard", shard)
					}
				}
			}
			report, err := bench.Run(cmd.Context(), cfg)
			if errors.Is(err, bench.ErrConfig) {
				return usageErrorf("%v", err)
			}
			if err != nil && len(report.Rows) == 0 {
				return failure(err)
			}
			// A run that failed part way prints the rows it measured
			// before the error.
			write := report.WriteTable
			if asJSON {
				write = report.WriteJSON
			}
			return failure(errors.Join(write(g.env.Stdout), err))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cfg.Quick, "quick", false, "small sizes (but P6's shard, which must outgrow its goal's slack) and fewer runs: the whole suite in under a minute, to try it; the goals are set for the default sizes")
	f.StringVar(&only, "only", "", "comma-separated measures to run (P1..P6); default all")
	f.IntVar(&cfg.Rows, "rows", 0, "rows of the generated shard (default 1000000)")
	f.IntVar(&cfg.Parts, "parts", 0, "parts of the generated shard (default 64)")
	f.DurationVar(&cfg.Latency, "latency", 0, "latency P2's blob adds to every read (default 20ms; 0 means the default)")
	f.IntVar(&cfg.P6Rows, "p6-rows", 0, "rows of P6's own shard, in up to 256 parts (default 4000000)")
	f.IntVar(&cfg.Records, "records", 0, "records P3 pushes through its stages (default 10000000)")
	f.IntVar(&cfg.Runs, "runs", 0, fmt.Sprintf("timed runs per figure, after one warm-up (0: the default, 5, or 3 with --quick; P1's judged figures take %d times as many)", bench.P1RunsFactor))
	f.BoolVar(&asJSON, "json", false, "write the report as JSON instead of a table")
	f.BoolVar(&noRemote, "no-other-process", false, "skip P5's listener in another process")
	f.StringVar(&cfg.PostgresURL, "postgres", os.Getenv("SHARDFLOW_POSTGRES_URL"), "PostgreSQL URL for P5's PostgreSQL rows (default $SHARDFLOW_POSTGRES_URL; none: skipped)")
	_ = f.SetAnnotation("postgres", emptyOK, []string{"--postgres '' skips the PostgreSQL rows"})
	return cmd
}

// newBenchListenerCmd is the other process of P5; bench starts it.
func newBenchListenerCmd(g *globals) *cobra.Command {
	var shard string
	cmd := &cobra.Command{
		Use:    "bench-listener --blob URL --consensus URL --bench-shard NAME",
		Short:  "The listener process of bench's P5 (started by bench)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.blob == "" || shard == "" {
				return usageErrorf("--blob, --consensus and --bench-shard are required")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Hour)
			defer cancel()
			if err := bench.ServeListener(ctx, g.blob, g.consensus, shard, g.env.Stdin, g.env.Stdout); err != nil {
				return failure(fmt.Errorf("bench listener: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&shard, "bench-shard", "", "shard to listen to")
	return cmd
}
