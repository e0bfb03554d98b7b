package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

func TestMain(m *testing.M) {
	testscript.Main(leakChecked{m}, map[string]func(){
		"shardflow": func() { os.Exit(run()) },
	})
}

// leakChecked runs the tests, then fails the run if they left a goroutine
// behind (goleak.VerifyTestMain would exit before testscript could).
type leakChecked struct{ m *testing.M }

func (l leakChecked) Run() int {
	code := l.m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// TestScripts runs the end-to-end scripts under testdata/script. Each runs
// the real command (this test binary re-executed as shardflow) in a fresh
// directory, so ./shardflow-data is the script's own.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               quickExit,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"exits":          cmdExits,
			"waitfor":        cmdWaitfor,
			"jsonget":        cmdJSONGet,
			"cmpupdates":     cmdCmpUpdates,
			"downgradesince": cmdDowngradeSince,
		},
	})
}

// quickExit sets up a script's environment: a race-enabled binary sleeps a
// second at exit by default, waiting for other goroutines' reports, which
// would be a second per command.
func quickExit(env *testscript.Env) error {
	env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return nil
}

// cmdExits runs a program and checks its exit status:
//
//	exits STATUS program [args...]
//
// stdout and stderr are kept for the commands that follow, as with exec.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits STATUS program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad status %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// cmdWaitfor polls a file until its content matches a regular expression,
// failing after a deadline (default 10s):
//
//	waitfor [-timeout DURATION] FILE REGEXP
func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	timeout := 10 * time.Second
	if len(args) > 0 && args[0] == "-timeout" {
		if len(args) < 2 {
			ts.Fatalf("usage: waitfor [-timeout DURATION] FILE REGEXP")
		}
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		timeout, args = d, args[2:]
	}
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitfor [-timeout DURATION] FILE REGEXP")
	}
	re, err := regexp.Compile(`(?m)` + args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	start := time.Now()
	deadline := start.Add(timeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && re.Match(b) {
			ts.Logf("waitfor: %s matched %q after %v", args[0], args[1], time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitfor: %s did not match %q within %v; it holds:\n%s", args[0], args[1], timeout, b)
		}
		time.Sleep(wait) // polling an external process's output, bounded by the deadline
	}
}

// cmdJSONGet sets an environment variable to a value in the JSON the last
// command printed:
//
//	jsonget VAR PATH
//
// PATH is dotted: batches.1.parts.0.path.
func cmdJSONGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonget VAR PATH")
	}
	var v any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &v))
	for _, step := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[step]; !ok {
				ts.Fatalf("jsonget: no field %q", step)
			}
		case []any:
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("jsonget: no element %q of a %d-element array", step, len(x))
			}
			v = x[i]
		default:
			ts.Fatalf("jsonget: %q: not an object or array", step)
		}
	}
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	ts.Setenv(args[0], s)
}

// cmdCmpUpdates compares the update lines of a replay's JSONL output with a
// file, ignoring the frontier lines: how the frontier's advances coalesce
// depends on how fast the workers hear of each other's progress, while the
// updates, consolidated and sorted per time, do not.
//
//	cmpupdates stdout FILE
func cmdCmpUpdates(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: cmpupdates stdout|FILE FILE")
	}
	var got strings.Builder
	for _, line := range strings.SplitAfter(ts.ReadFile(args[0]), "\n") {
		if line != "" && !strings.HasPrefix(line, `{"frontier":`) {
			got.WriteString(line)
		}
	}
	if want := ts.ReadFile(args[1]); got.String() != want {
		ts.Fatalf("updates in %s differ from %s:\n got:\n%s\nwant:\n%s", args[0], args[1], got.String(), want)
	}
}

// cmdDowngradeSince advances a shard's since in the default location, as a
// reader that is done with earlier times would: it registers a reader,
// downgrades its since and expires it (the since stays).
//
//	downgradesince SHARD T
func cmdDowngradeSince(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: downgradesince SHARD T")
	}
	t, err := strconv.ParseUint(args[1], 10, 64)
	ts.Check(err)
	ctx := context.Background()
	loc, err := persist.DefaultLocation(ctx, ts.MkAbs("shardflow-data"))
	ts.Check(err)
	defer loc.Close()
	r, err := persist.NewClient(loc, persist.ClientOptions{}).OpenReader(ctx, persist.ShardID(args[0]), "test")
	ts.Check(err)
	ts.Check(r.DowngradeSince(ctx, frontier.From(frontier.Time(t))))
	ts.Check(r.Expire(ctx))
}
