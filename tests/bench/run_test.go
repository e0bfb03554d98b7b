package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardflow/shardflow/persist/location/postgres/pgtest"
)

// tinyConfig runs every measure at sizes that take a few seconds.
func tinyConfig() Config {
	return Config{Rows: 20_000, Parts: 8, Latency: 2 * time.Millisecond, Records: 100_000,
		Steps: 200, Writes: 20, OtherWrites: 3, Runs: 1, P6Rows: 20_000}
}

// TestRunQuick runs every measure at tiny sizes and checks the report's
// shape: every measure reported, figures finite and positive, ratios
// consistent, and both encodings carry every row. The replays' row counts
// are checked inside Run (a replay that loses a row fails it).
func TestRunQuick(t *testing.T) {
	var progress bytes.Buffer
	cfg := tinyConfig()
	cfg.Progress = &progress
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"P1": 6, "P2": 5, "P3": 3, "P4": 1, "P5": 2, "P6": 2}
	got := map[string]int{}
	for _, r := range rep.Rows {
		got[r.ID]++
		if !finitePositive(r.Shardflow) {
			t.Errorf("%s %s: shardflow figure %v", r.ID, r.Measure, r.Shardflow)
		}
		if r.ID == "P4" {
			continue // no baseline
		}
		if !finitePositive(r.Baseline) || !finitePositive(r.Ratio) {
			t.Errorf("%s %s: baseline %v ratio %v", r.ID, r.Measure, r.Baseline, r.Ratio)
		}
		if math.Abs(r.Ratio-r.Shardflow/r.Baseline) > 1e-9*r.Ratio {
			t.Errorf("%s %s: ratio %v is not %v/%v", r.ID, r.Measure, r.Ratio, r.Shardflow, r.Baseline)
		}
	}
	for id, n := range want {
		if got[id] != n {
			t.Errorf("%s: %d rows, want %d", id, got[id], n)
		}
	}
	if lines := strings.Count(progress.String(), "\n"); lines != len(rep.Rows) {
		t.Errorf("%d progress lines for %d rows:\n%s", lines, len(rep.Rows), progress.String())
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(table.String(), "\n"); lines != len(rep.Rows)+1 {
		t.Errorf("table has %d lines, want %d:\n%s", lines, len(rep.Rows)+1, table.String())
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Settings.Rows != cfg.Rows || back.Settings.GOMAXPROCS < 1 || back.Settings.Latency != "2ms" {
		t.Errorf("settings %+v", back.Settings)
	}
	if !slices.EqualFunc(back.Rows, rep.Rows, sameRow) {
		t.Errorf("JSON round trip changed the rows:\n%s", js.String())
	}
	t.Logf("tiny run (not a measurement):\n%s", table.String())
}

func sameRow(a, b Row) bool {
	metA, metB := a.Met != nil && *a.Met, b.Met != nil && *b.Met
	a.Met, b.Met = nil, nil
	return a == b && metA == metB
}

func finitePositive(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// Only selects measures; an unknown one is refused before anything runs.
func TestOnly(t *testing.T) {
	cfg := tinyConfig()
	cfg.Only = []string{"P4"}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 || rep.Rows[0].ID != "P4" {
		t.Fatalf("rows %+v, want one P4 row", rep.Rows)
	}
	cfg.Only = []string{"P9"}
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown measure: err %v, want ErrConfig", err)
	}
}

// P5 with a listener in another process (this test binary, re-executed):
// four rows, and the cross-process latencies are real readings.
func TestP5OtherProcess(t *testing.T) {
	cfg := tinyConfig()
	cfg.Only, cfg.OtherWrites, cfg.ListenerCommand = []string{"P5"}, 3, listenerCommand
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 4 {
		t.Fatalf("%d rows, want 4: %+v", len(rep.Rows), rep.Rows)
	}
	for _, r := range rep.Rows {
		if !finitePositive(r.Shardflow) || !finitePositive(r.Baseline) {
			t.Errorf("%s: %v ms, baseline %v ms", r.Measure, r.Shardflow, r.Baseline)
		}
	}
	t.Logf("other process p50 %.1f ms (write %.1f ms)", rep.Rows[2].Shardflow, rep.Rows[2].Baseline)
}

// P5 with consensus in PostgreSQL, in process and in another process.
func TestP5Postgres(t *testing.T) {
	url := pgtest.NewDatabase(t) // skips, saying why, if no PostgreSQL can run here
	cfg := tinyConfig()
	cfg.Only, cfg.OtherWrites, cfg.ListenerCommand, cfg.PostgresURL = []string{"P5"}, 3, listenerCommand, url
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 8 {
		t.Fatalf("%d rows, want 8: %+v", len(rep.Rows), rep.Rows)
	}
	for _, r := range rep.Rows {
		if !finitePositive(r.Shardflow) || !finitePositive(r.Baseline) {
			t.Errorf("%s: %v ms, baseline %v ms", r.Measure, r.Shardflow, r.Baseline)
		}
	}
	for _, r := range rep.Rows[4:] {
		if !strings.Contains(r.Measure, "PostgreSQL") {
			t.Errorf("row %q is not PostgreSQL's", r.Measure)
		}
	}
	t.Logf("PostgreSQL other process p50 %.1f ms (write %.1f ms)", rep.Rows[6].Shardflow, rep.Rows[6].Baseline)
	// The shards were in a schema of their own, dropped afterwards: the
	// database holds neither it nor any table. (They were left in it.)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left []string
	rows, err := conn.Query(context.Background(), `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relname = 'shardflow_consensus' OR n.nspname LIKE 'shardflow_bench_%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		left = append(left, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("P5 left %v in the database", left)
	}
}

// A listener process that fails at once (it cannot open its location) makes
// P5 fail promptly with the process's error, instead of waiting for it.
func TestP5ListenerProcessFails(t *testing.T) {
	cfg := tinyConfig()
	cfg.Only, cfg.OtherWrites = []string{"P5"}, 3
	cfg.ListenerCommand = func(ctx context.Context, _, consensusURL, shard string) *exec.Cmd {
		return listenerCommand(ctx, "nosuchscheme://x", consensusURL, shard)
	}
	start := time.Now()
	_, err := Run(context.Background(), cfg)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("err %v, want the listener's *exec.ExitError", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

// Two runs in one Config.Dir do not collide: each generates its own shards.
func TestRunTwiceInOneDir(t *testing.T) {
	cfg := tinyConfig()
	cfg.Only, cfg.Dir = []string{"P1"}, t.TempDir()
	for i := range 2 {
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

// An unreachable PostgreSQL fails the run before its first measure, not
// when P5 comes to it, minutes and every other row later.
func TestPostgresUnreachableFailsFirst(t *testing.T) {
	cfg := tinyConfig()
	cfg.Only, cfg.PostgresURL = []string{"P3", "P5"}, "postgres://shardflow@127.0.0.1:1/nowhere?connect_timeout=5&sslmode=disable"
	rep, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the PostgreSQL") || len(rep.Rows) != 0 {
		t.Fatalf("Run: %d rows, %v; want no rows and the connection's error", len(rep.Rows), err)
	}
}
