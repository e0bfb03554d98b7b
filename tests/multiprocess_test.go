package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location/postgres/pgtest"
)

// visibleDeadline bounds the wait for one write to show up in another
// process: far above the worst case of polling (1s), far below a hang.
const visibleDeadline = 20 * time.Second

// replayLine is one line of `shardflow replay` jsonl output.
type replayLine struct {
	Key      json.RawMessage `json:"key"`
	Val      json.RawMessage `json:"val"`
	Time     *uint64         `json:"time"`
	Diff     int64           `json:"diff"`
	Frontier []uint64        `json:"frontier"`
	Error    string          `json:"error"`
}

// shardflowCmd is the built CLI run against the location of blobURL and
// consensusURL.
func shardflowCmd(t testing.TB, blobURL, consensusURL string, args ...string) *exec.Cmd {
	cmd := exec.Command(shardflowBinary(t), append([]string{"--blob", blobURL, "--consensus", consensusURL}, args...)...)
	cmd.Env = os.Environ()
	return cmd
}

// writeOne runs `shardflow write` for one update at time ts.
func writeOne(t *testing.T, blobURL, consensusURL, shard string, ts int) {
	t.Helper()
	cmd := shardflowCmd(t, blobURL, consensusURL, "write", "--shard", shard)
	cmd.Stdin = strings.NewReader(fmt.Sprintf(`{"key":"k%04d","val":%d,"time":%d}`+"\n", ts, ts, ts))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shardflow write at %d: %v\n%s", ts, err, out)
	}
}

// TestFollowAcrossProcesses: one `shardflow replay --follow` process sees,
// through PostgreSQL consensus and an S3 blob store, every batch that other
// `shardflow write` processes commit, each within a deadline; SIGINT then
// stops it with status 0 and its reader expired.
func TestFollowAcrossProcesses(t *testing.T) {
	pgURL := pgtest.NewDatabase(t)
	s3URL := newFakeS3(t).bucketURL(t)
	const shard, writes = "follow", 8

	writeOne(t, s3URL, pgURL, shard, 0) // creates the shard
	reader := shardflowCmd(t, s3URL, pgURL, "replay", "--shard", shard, "--follow")
	out, stderr := startChild(t, reader)

	// seen waits for the update of write ts; frontier lines and updates
	// of earlier writes may come first, in order.
	want := 0
	seen := func(ts int) {
		t.Helper()
		deadline := time.Now().Add(visibleDeadline)
		for {
			s, err := out.next(time.Until(deadline))
			if err != nil {
				t.Fatalf("write at %d not seen by the reader: %v\nstderr: %s", ts, err, stderr)
			}
			var l replayLine
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				t.Fatalf("reader printed %q: %v", s, err)
			}
			if l.Error != "" {
				t.Fatalf("reader failed: %s", s)
			}
			if l.Time == nil {
				continue // a frontier line
			}
			if key := fmt.Sprintf(`"k%04d"`, want); string(l.Key) != key || *l.Time != uint64(want) || l.Diff != 1 {
				t.Fatalf("reader printed %s, want the update of write %d (key %s)", s, want, key)
			}
			want++
			if want > ts {
				return
			}
		}
	}
	seen(0)
	for ts := 1; ts <= writes; ts++ {
		writeOne(t, s3URL, pgURL, shard, ts)
		seen(ts)
	}

	if err := reader.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		rest := out.wait()
		for _, s := range rest {
			if strings.Contains(s, `"key"`) {
				exited <- fmt.Errorf("reader printed %s after the last write", s)
				reader.Wait()
				return
			}
		}
		exited <- reader.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("reader after SIGINT: %v\nstderr: %s", err, stderr)
		}
	case <-time.After(visibleDeadline):
		reader.Process.Kill()
		<-exited
		t.Fatalf("reader did not exit within %v of SIGINT\nstderr: %s", visibleDeadline, stderr)
	}
	if ws := reader.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
		t.Fatalf("reader died of %v", ws.Signal())
	}

	// The state as another process sees it: every blob verified, no
	// reader left by the replay, no writer left by the writes.
	inspect := shardflowCmd(t, s3URL, pgURL, "inspect", "--shard", shard, "--output", "json", "--verify")
	js, err := inspect.Output()
	if err != nil {
		t.Fatalf("shardflow inspect --verify: %v\n%s", err, js)
	}
	var st struct {
		Upper   []uint64          `json:"upper"`
		Readers []json.RawMessage `json:"readers"`
		Writers []json.RawMessage `json:"writers"`
	}
	if err := json.Unmarshal(js, &st); err != nil {
		t.Fatalf("inspect printed %s: %v", js, err)
	}
	if len(st.Readers) != 0 || len(st.Writers) != 0 {
		t.Fatalf("readers or writers left after clean shutdowns: %s", js)
	}
	if !slices.Equal(st.Upper, []uint64{writes + 1}) {
		t.Fatalf("upper %v, want [%d]", st.Upper, writes+1)
	}
}

// TestRacingWritersOneWins: writer processes that race to append at the
// same time through PostgreSQL's compare-and-set: exactly one commits, the
// others fail with status 1 and write nothing, and the shard holds exactly
// the winner's update.
func TestRacingWritersOneWins(t *testing.T) {
	pgURL := pgtest.NewDatabase(t)
	s3URL := newFakeS3(t).bucketURL(t)
	const shard, racers = "race", 4
	writeOne(t, s3URL, pgURL, shard, 0)

	cmds := make([]*exec.Cmd, racers)
	outs := make([]*syncBuffer, racers)
	for i := range cmds {
		cmds[i] = shardflowCmd(t, s3URL, pgURL, "write", "--shard", shard, "--upper", "2", "--inline-max-bytes", "0")
		cmds[i].Stdin = strings.NewReader(fmt.Sprintf(`{"key":"racer%d","val":%d,"time":1}`+"\n", i, i))
		outs[i] = &syncBuffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	winner := -1
	for i, cmd := range cmds {
		err := cmd.Wait()
		switch code := cmd.ProcessState.ExitCode(); {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("racers %d and %d both committed at time 1", winner, i)
		case code != 1:
			t.Errorf("racer %d: %v, want status 1\n%s", i, err, outs[i])
		}
	}
	if winner < 0 {
		t.Fatalf("no racer committed:\n%s", outs[0])
	}

	replay := shardflowCmd(t, s3URL, pgURL, "replay", "--shard", shard)
	js, err := replay.Output()
	if err != nil {
		t.Fatalf("shardflow replay: %v\n%s", err, js)
	}
	var keys []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(js)), "\n") {
		var l replayLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("replay printed %q: %v", line, err)
		}
		if l.Time != nil {
			keys = append(keys, fmt.Sprintf("%s@%d", l.Key, *l.Time))
		}
	}
	if want := []string{`"k0000"@0`, fmt.Sprintf(`"racer%d"@1`, winner)}; !slices.Equal(keys, want) {
		t.Fatalf("replay shows %v, want %v", keys, want)
	}

	// The losers deleted the parts they had written.
	loc, err := persist.OpenLocation(t.Context(), s3URL, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	st, err := persist.NewClient(loc, persist.ClientOptions{}).State(t.Context(), shard)
	if err != nil {
		t.Fatal(err)
	}
	var referenced []string
	for _, b := range st.Batches {
		for _, p := range b.Parts {
			if p.Inline == nil { // an inline part has no blob
				referenced = append(referenced, p.Key)
			}
		}
	}
	slices.Sort(referenced)
	if blobs := listBlobs(t, loc.Blob, shard+"/"); !slices.Equal(blobs, referenced) {
		t.Fatalf("blobs %v, want only the referenced %v", blobs, referenced)
	}
}
