package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/sqlite"
)

// The multi-process test re-executes the test binary as child processes;
// childEnv carries the database path, with the worker id and target seqno
// in the variables after it.
const (
	childEnv       = "SHARDFLOW_SQLITE_CHILD_DB"
	childIDEnv     = "SHARDFLOW_SQLITE_CHILD_ID"
	childTargetEnv = "SHARDFLOW_SQLITE_CHILD_TARGET"
)

// childMain races to append versions up to the target seqno, printing
// "won SEQNO" for each compare-and-set it commits.
func childMain() int {
	ctx := context.Background()
	id := os.Getenv(childIDEnv)
	// Target 0: run until killed.
	target, err := strconv.ParseUint(os.Getenv(childTargetEnv), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: bad target:", err)
		return 2
	}
	c, err := sqlite.Open(ctx, os.Getenv(childEnv), sqlite.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 2
	}
	defer c.Close()
	for {
		head, ok, err := c.Head(ctx, "race")
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: head:", err)
			return 1
		}
		var expected *location.SeqNo
		next := location.SeqNo(1)
		if ok {
			if target > 0 && uint64(head.SeqNo) >= target {
				return 0
			}
			expected, next = &head.SeqNo, head.SeqNo+1
		}
		res, err := c.CompareAndSet(ctx, "race", expected, location.VersionedData{SeqNo: next, Data: []byte(id)})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: compare-and-set:", err)
			return 1
		}
		if res == location.Committed {
			fmt.Printf("won %d\n", next)
		}
	}
}

// TestMultiProcess runs several processes doing compare-and-sets on one file
// at once: every seqno is won by exactly one process, and the stored
// version carries the winner's id.
func TestMultiProcess(t *testing.T) {
	const procs, target = 4, 150
	path := filepath.Join(t.TempDir(), "consensus.db")
	// Create the file first so the children race on writes, not on setup.
	open(t, path).Close()

	outs := make([]bytes.Buffer, procs)
	cmds := make([]*exec.Cmd, procs)
	for i := range procs {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(),
			childEnv+"="+path,
			fmt.Sprintf("%s=p%d", childIDEnv, i),
			fmt.Sprintf("%s=%d", childTargetEnv, target))
		cmd.Stdout = &outs[i]
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	winner := map[location.SeqNo]string{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child p%d: %v", i, err)
		}
		sc := bufio.NewScanner(&outs[i])
		for sc.Scan() {
			s, ok := strings.CutPrefix(sc.Text(), "won ")
			n, err := strconv.ParseUint(s, 10, 64)
			if !ok || err != nil {
				t.Fatalf("child p%d printed %q", i, sc.Text())
			}
			if prev, dup := winner[location.SeqNo(n)]; dup {
				t.Fatalf("seqno %d won by both %s and p%d", n, prev, i)
			}
			winner[location.SeqNo(n)] = fmt.Sprintf("p%d", i)
		}
	}
	c := open(t, path)
	defer c.Close()
	vs, err := c.Scan(t.Context(), "race", 0, 2*target)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != target || len(winner) != target {
		t.Fatalf("%d versions stored, %d wins reported, want %d", len(vs), len(winner), target)
	}
	procsWon := map[string]bool{}
	for i, v := range vs {
		if v.SeqNo != location.SeqNo(i+1) || string(v.Data) != winner[v.SeqNo] {
			t.Fatalf("version %d = (%d, %q), winner %q", i, v.SeqNo, v.Data, winner[v.SeqNo])
		}
		procsWon[string(v.Data)] = true
	}
	t.Logf("%d seqnos won by %d of %d processes", target, len(procsWon), procs)
}

// TestKilledWriter kills a process in the middle of a stream of
// compare-and-sets: every commit it reported before dying is in the file,
// the log is an unbroken chain, and the database passes SQLite's integrity
// check.
func TestKilledWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	open(t, path).Close()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path, childIDEnv+"=victim", childTargetEnv+"=0")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 40
	reported := map[location.SeqNo]bool{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		n, err := strconv.ParseUint(strings.TrimPrefix(sc.Text(), "won "), 10, 64)
		if err != nil {
			t.Fatalf("child printed %q", sc.Text())
		}
		reported[location.SeqNo(n)] = true
		if len(reported) == killAfter {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the child exited cleanly; it should have been killed")
	}
	if len(reported) < killAfter {
		t.Fatalf("child reported only %d commits before dying", len(reported))
	}
	c := open(t, path)
	defer c.Close()
	vs, err := c.Scan(t.Context(), "race", 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v.SeqNo != location.SeqNo(i+1) || string(v.Data) != "victim" {
			t.Fatalf("version %d = (%d, %q): the log is not an unbroken chain", i, v.SeqNo, v.Data)
		}
	}
	for s := range reported {
		if int(s) > len(vs) {
			t.Fatalf("commit of seqno %d was reported but is not in the file (%d versions)", s, len(vs))
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	t.Logf("%d commits reported, %d versions in the file", len(reported), len(vs))
}
