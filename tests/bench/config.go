package bench

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"time"
)

// P1RunsFactor multiplies Config.Runs for P1's judged pair, the replay and
// the fetch loop. At 15 runs their ratio ranged 0.89-0.98 across three
// invocations with 2 workers; at 60, 0.86-0.87.
const P1RunsFactor = 12

// Config says which measures to run and how large to make them. Zero fields
// take the defaults (or the quick defaults when Quick is set).
type Config struct {
	// Rows and Parts shape the generated shard of P1 and P2 (default
	// 1,000,000 rows in 64 parts); P6 has its own (P6Rows).
	Rows, Parts int
	// P6Rows is the rows of P6's own shard, in up to 256 parts (default
	// 4,000,000: about 150 MiB of parts, so that a replay holding the
	// whole shard would exceed the goal twice over).
	P6Rows int
	// Latency is what P2's blob adds to every read (default 20ms; zero
	// means the default).
	Latency time.Duration
	// Records is how many records P3 pushes through its stages (default
	// 10,000,000).
	Records int
	// Steps is how many Steps P4 times per run (default 10,000).
	Steps int
	// Writes is how many writes P5 times with the listener in process
	// (default 1000).
	Writes int
	// OtherWrites is how many writes P5 times with the listener in another
	// process (default 1000, quick 100). That listener is woken by the
	// consensus (a file event on SQLite's notify file, LISTEN/NOTIFY on
	// PostgreSQL), with polling as the fallback.
	OtherWrites int
	// Quick shrinks every default but P6Rows, which must keep P6's shard
	// larger than its goal's slack, so that the whole run takes under a
	// minute (about 6 s on a 2-core machine); explicit fields still win.
	Quick bool
	// Runs is how many timed runs each figure is the median of (default 5,
	// quick 3). One untimed warm-up run precedes them. P1's replays take
	// tens of milliseconds and vary most with the scheduler, so its
	// judged figures are medians of P1RunsFactor times as many.
	Runs int
	// Only restricts the run to the measures named ("P1", "P3", ...);
	// empty runs all.
	Only []string
	// Dir is where shards are generated; empty means a new temporary
	// directory, removed at the end.
	Dir string
	// Progress, if not nil, receives one line per row as it is measured.
	Progress io.Writer
	// ListenerCommand, if not nil, makes P5 also measure a listener in
	// another process: it returns the command of a process that calls
	// ServeListener(ctx, blobURL, consensusURL, shard, os.Stdin,
	// os.Stdout). Run starts it, closes its standard input when done and
	// waits for it.
	ListenerCommand func(ctx context.Context, blobURL, consensusURL, shard string) *exec.Cmd
	// PostgresURL, if set, makes P5 also measure with consensus in that
	// PostgreSQL database (blobs stay in files), whose LISTEN/NOTIFY wakes
	// listeners in other processes.
	PostgresURL string
}

// Measures lists the measure ids Run knows, in the order it runs them.
var Measures = []string{"P1", "P2", "P3", "P4", "P5", "P6"}

// withDefaults returns cfg with its zero fields filled in, or an error
// naming the first field out of range.
func (cfg Config) withDefaults() (Config, error) {
	def := Config{Rows: 1_000_000, Parts: 64, Latency: 20 * time.Millisecond,
		Records: 10_000_000, Steps: 10_000, Writes: 1000, OtherWrites: 1000, Runs: 5, P6Rows: 4_000_000}
	if cfg.Quick {
		def = Config{Rows: 100_000, Parts: 16, Latency: 5 * time.Millisecond,
			Records: 2_000_000, Steps: 2000, Writes: 200, OtherWrites: 100, Runs: 3, P6Rows: 4_000_000}
	}
	fill := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	fill(&cfg.Rows, def.Rows)
	fill(&cfg.Parts, def.Parts)
	fill(&cfg.Records, def.Records)
	fill(&cfg.Steps, def.Steps)
	fill(&cfg.Writes, def.Writes)
	fill(&cfg.OtherWrites, def.OtherWrites)
	fill(&cfg.Runs, def.Runs)
	fill(&cfg.P6Rows, def.P6Rows)
	if cfg.Latency == 0 {
		cfg.Latency = def.Latency
	}
	switch {
	case cfg.Rows < 1:
		return cfg, fmt.Errorf("%w: rows %d < 1", ErrConfig, cfg.Rows)
	case cfg.Parts < 1 || cfg.Parts > cfg.Rows:
		return cfg, fmt.Errorf("%w: parts %d not in [1, rows=%d] (give both rows and parts: each has a default)", ErrConfig, cfg.Parts, cfg.Rows)
	case cfg.Latency < 0:
		return cfg, fmt.Errorf("%w: latency %v < 0", ErrConfig, cfg.Latency)
	case cfg.Records < 1 || cfg.Steps < 1 || cfg.Writes < 1 || cfg.OtherWrites < 1 || cfg.Runs < 1 || cfg.P6Rows < 1:
		return cfg, fmt.Errorf("%w: records, steps, writes, runs and P6 rows must be at least 1", ErrConfig)
	}
	for _, id := range cfg.Only {
		if !slices.Contains(Measures, id) {
			return cfg, fmt.Errorf("%w: unknown measure %q (known: %v)", ErrConfig, id, Measures)
		}
	}
	return cfg, nil
}

// runs reports whether the measure id is selected.
func (cfg Config) runs(id string) bool {
	return len(cfg.Only) == 0 || slices.Contains(cfg.Only, id)
}
