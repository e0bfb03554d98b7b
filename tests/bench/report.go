package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"
)

// ErrConfig is wrapped by Run's error for a Config it refuses.
var ErrConfig = errors.New("bench: bad config")

// Report is the outcome of Run: one Row per figure, in the order measured.
type Report struct {
	Settings Settings `json:"settings"`
	Rows     []Row    `json:"rows"`
}

// Settings records what a Report was measured with, so that two reports can
// be told comparable or not.
type Settings struct {
	Rows        int       `json:"rows"`
	Parts       int       `json:"parts"`
	Latency     string    `json:"latency"`
	Records     int       `json:"records"`
	Steps       int       `json:"steps"`
	Writes      int       `json:"writes"`
	OtherWrites int       `json:"other_writes"`
	Runs        int       `json:"runs"`
	P6Rows      int       `json:"p6_rows"`
	Quick       bool      `json:"quick"`
	GOMAXPROCS  int       `json:"gomaxprocs"`
	NumCPU      int       `json:"num_cpu"`
	GoVersion   string    `json:"go_version"`
	GOOS        string    `json:"goos"`
	GOARCH      string    `json:"goarch"`
	Started     time.Time `json:"started"`
}

func settingsOf(cfg Config, started time.Time) Settings {
	return Settings{Rows: cfg.Rows, Parts: cfg.Parts, Latency: cfg.Latency.String(), Records: cfg.Records,
		Steps: cfg.Steps, Writes: cfg.Writes, OtherWrites: cfg.OtherWrites, Runs: cfg.Runs, P6Rows: cfg.P6Rows, Quick: cfg.Quick,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(),
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Started: started.UTC()}
}

// Row is one figure. Ratio is Shardflow/Baseline, or 0 when the measure has
// no baseline (Baseline 0). Met is nil when the measure has no goal or could
// not judge it.
type Row struct {
	ID        string  `json:"id"`
	Measure   string  `json:"measure"`
	Unit      string  `json:"unit"`
	Shardflow float64 `json:"shardflow"`
	Baseline  float64 `json:"baseline"`
	Ratio     float64 `json:"ratio"`
	Goal      string  `json:"goal,omitempty"`
	Met       *bool   `json:"met"`
	Note      string  `json:"note,omitempty"`
}

// newRow fills Ratio from the two figures.
func newRow(id, measure, unit string, shardflow, baseline float64) Row {
	r := Row{ID: id, Measure: measure, Unit: unit, Shardflow: shardflow, Baseline: baseline}
	if baseline != 0 {
		r.Ratio = shardflow / baseline
	}
	return r
}

// judge sets the row's goal and whether it was met.
func (r Row) judge(goal string, met bool) Row {
	r.Goal, r.Met = goal, &met
	return r
}

// WriteTable writes the report as an aligned text table.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMEASURE\tUNIT\tSHARDFLOW\tBASELINE\tRATIO\tGOAL\tMET\tNOTE")
	for _, row := range r.Rows {
		met := "-"
		if row.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*row.Met]
		}
		goal := row.Goal
		if goal == "" {
			goal = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.ID, row.Measure, row.Unit,
			figure(row.Shardflow), figure(row.Baseline), ratio(row), goal, met, row.Note)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: write table: %w", err)
	}
	if r.Settings.Quick {
		if _, err := fmt.Fprintln(w, quickCaveat); err != nil {
			return fmt.Errorf("bench: write table: %w", err)
		}
	}
	return nil
}

// quickCaveat closes the table of a quick run, whose goals may read NO for
// its sizes alone.
const quickCaveat = "quick sizes: the goals are set for the default sizes, where the fixed costs of a run " +
	"(a replay's setup, about 0.3 ms; a read's per-part work against a shorter latency) weigh far less; " +
	"a NO here is not a missed goal until a run without --quick says so"

// WriteJSON writes the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: write json: %w", err)
	}
	return nil
}

// figure prints a value with three significant digits, "-" for none.
func figure(v float64) string {
	if v == 0 || math.IsNaN(v) {
		return "-"
	}
	if math.Abs(v) >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func ratio(r Row) string {
	if r.Baseline == 0 {
		return "-"
	}
	return strconv.FormatFloat(r.Ratio, 'f', 2, 64)
}
