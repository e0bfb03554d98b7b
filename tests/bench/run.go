package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/shardflow/shardflow/persist"
)

// Run runs the measures cfg selects and returns their rows. A measure that
// fails ends the run with its error; the rows measured so far are returned
// with it.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Report{}, err
	}
	if cfg.PostgresURL != "" && cfg.runs("P5") {
		if err := checkPostgres(ctx, cfg.PostgresURL); err != nil {
			return Report{}, err
		}
	}
	e, err := newEnv(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Settings: settingsOf(cfg, time.Now())}
	err = e.run(ctx, &rep)
	return rep, errors.Join(err, e.close())
}

// measure runs one measure and returns its rows.
type measure func(ctx context.Context, e *env) ([]Row, error)

var measureFuncs = map[string]measure{
	"P1": measureP1,
	"P2": measureP2,
	"P3": measureP3,
	"P4": measureP4,
	"P5": measureP5,
	"P6": measureP6,
}

func (e *env) run(ctx context.Context, rep *Report) error {
	for _, id := range Measures {
		if !e.cfg.runs(id) {
			continue
		}
		rows, err := measureFuncs[id](ctx, e)
		rep.Rows = append(rep.Rows, rows...)
		for _, r := range rows {
			e.progress(r)
		}
		if err != nil {
			return fmt.Errorf("bench: %s: %w", id, err)
		}
	}
	return nil
}

// env is what the measures of one Run share: the configuration and the
// directory and location shards are generated in.
type env struct {
	cfg     Config
	dir     string
	ownsDir bool
	loc     persist.Location
	shards  map[string]*shard // by name
	started time.Time
}

func newEnv(ctx context.Context, cfg Config) (*env, error) {
	e := &env{cfg: cfg, dir: cfg.Dir, shards: map[string]*shard{}, started: time.Now()}
	if e.dir == "" {
		d, err := os.MkdirTemp("", "shardflow-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench: temporary directory: %w", err)
		}
		e.dir, e.ownsDir = d, true
	}
	loc, err := persist.DefaultLocation(ctx, e.dir)
	if err != nil {
		e.removeDir()
		return nil, fmt.Errorf("bench: open location in %s: %w", e.dir, err)
	}
	e.loc = loc
	return e, nil
}

func (e *env) close() error {
	err := e.loc.Close()
	if err != nil {
		err = fmt.Errorf("bench: close location: %w", err)
	}
	return errors.Join(err, e.removeDir())
}

func (e *env) removeDir() error {
	if !e.ownsDir {
		return nil
	}
	if err := os.RemoveAll(e.dir); err != nil {
		return fmt.Errorf("bench: remove %s: %w", e.dir, err)
	}
	return nil
}

// progress prints one row as a line, if asked to.
func (e *env) progress(r Row) {
	if e.cfg.Progress == nil {
		return
	}
	line := fmt.Sprintf("%s %s: %s %s", r.ID, r.Measure, figure(r.Shardflow), r.Unit)
	if r.Baseline != 0 {
		line += fmt.Sprintf(" (baseline %s, ratio %.2f)", figure(r.Baseline), r.Ratio)
	}
	fmt.Fprintln(e.cfg.Progress, line)
}

// timed runs fn once to warm up, then runs times, and returns the median
// wall time of the timed runs. fn's own error ends it.
func timed(ctx context.Context, runs int, fn func() error) (time.Duration, error) {
	ts, err := interleaved(ctx, runs, fn)
	if err != nil {
		return 0, err
	}
	return ts[0].wall, nil
}

// timing is the median wall and CPU time of one function's runs. CPU time
// is the whole process's (0 where the system does not report it); on a
// shared machine it says more about cost than wall time, which mostly
// measures the share of the cores the scheduler gave.
// spread is (max-min)/median of the wall times: how far to trust the
// median.
type timing struct {
	wall, cpu time.Duration
	spread    float64
	// switches is the process's context switches in a run: each is a
	// thread put to sleep or woken, the price of a hand-off between
	// goroutines on different threads (a plain loop makes few).
	switches int64
}

// usage is what the process has used: CPU time (user and system) and
// context switches (voluntary and involuntary).
type usage struct {
	cpu      time.Duration
	sys      time.Duration // of cpu, the time in the kernel
	switches int64
	faults   int64 // page faults, minor and major
}

// interleaved warms each fn up once, then runs them in turn, runs rounds,
// so that a change in the machine's load during the measurement falls on
// all of them alike; it returns each fn's median timing. The first error
// ends it.
//
// Each round starts one fn later than the one before, so that no fn always
// runs right after the same other one: a run pays for the state the run
// before it left (memory the runtime has just returned to the system, say),
// and a fixed order would bill that to one fn only.
func interleaved(ctx context.Context, runs int, fns ...func() error) ([]timing, error) {
	walls := make([][]time.Duration, len(fns))
	cpus := make([][]time.Duration, len(fns))
	switches := make([][]int64, len(fns))
	for round := range runs + 1 {
		for k := range fns {
			i := (round + k) % len(fns)
			fn := fns[i]
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			// Start each run with a clean heap, as testing.B does, so no
			// variant pays for the garbage of the one before it.
			runtime.GC()
			u0, _ := processUsage()
			start := time.Now()
			if err := fn(); err != nil {
				return nil, err
			}
			wall := time.Since(start)
			u1, _ := processUsage()
			if round > 0 {
				walls[i] = append(walls[i], wall)
				cpus[i] = append(cpus[i], u1.cpu-u0.cpu)
				switches[i] = append(switches[i], u1.switches-u0.switches)
			}
		}
	}
	out := make([]timing, len(fns))
	for i := range fns {
		out[i] = timing{wall: median(walls[i]), cpu: median(cpus[i]), switches: median(switches[i])}
		if out[i].wall > 0 {
			out[i].spread = float64(slices.Max(walls[i])-slices.Min(walls[i])) / float64(out[i].wall)
		}
	}
	return out, nil
}

// median returns the middle value (the mean of the two middle ones for an
// even count).
func median[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile returns the p-th percentile (0 < p <= 100) by nearest rank.
func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(math.Ceil(float64(len(s))*p/100)) - 1
	return s[max(0, min(k, len(s)-1))]
}
