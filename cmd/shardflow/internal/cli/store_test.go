package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
)

// The read-only fallback opens a file, sqlite or PostgreSQL URL with mode=ro,
// keeping what the user gave (an explicit mode, other parameters) and
// leaving other schemes alone.
func TestReadOnlyURL(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite:///d/consensus.db":                 "sqlite:///d/consensus.db?mode=ro",
		"sqlite:///d/consensus.db?busy_timeout=1s": "sqlite:///d/consensus.db?busy_timeout=1s&mode=ro",
		"sqlite:///d/consensus.db?mode=ro":         "sqlite:///d/consensus.db?mode=ro",
		"sqlite:///d/a%20b.db":                     "sqlite:///d/a%20b.db?mode=ro",
		"postgres://u@h/db":                        "postgres://u@h/db?mode=ro",
		"postgresql://u@h/db?sslmode=disable":      "postgresql://u@h/db?sslmode=disable&mode=ro",
		"postgres://u@h/db?mode=rw":                "postgres://u@h/db?mode=rw",
		"postgres://u@h/db?options=-c%20a%3Db;x":   "postgres://u@h/db?options=-c%20a%3Db;x&mode=ro",
		"postgres://u@h/db?":                       "postgres://u@h/db?mode=ro",
		"postgres://u@h/db#f":                      "postgres://u@h/db#f",
		"mem://":                                   "mem://",
		"file:///d/blob":                           "file:///d/blob?mode=ro",
		"file:rel/blob?mode=ro":                    "file:rel/blob?mode=ro",
		"::not a url":                              "::not a url",
	} {
		if got := readOnlyURL(in); got != want {
			t.Errorf("readOnlyURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A replay whose consensus URL opens it read-only (mode=ro) reads without
// registering a reader, as on a location it cannot write, and prints what
// a replay of the same location printed before.
func TestReplayModeRO(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	in := `{"key":"a","val":1,"time":0}` + "\n" + `{"key":"b","val":2,"time":2}`
	if code, _, errOut := run(t, ctx, dir, in, "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	code, want, errOut := run(t, ctx, dir, "", "replay", "--shard", "s")
	if code != ExitOK {
		t.Fatalf("replay: %d %q", code, errOut)
	}
	blob, consensus := persist.DefaultURLs(dir + "/data")
	var stdout, stderr bytes.Buffer
	code = Main(ctx, []string{"--blob", blob, "--consensus", consensus + "?mode=ro", "replay", "--shard", "s"},
		Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if code != ExitOK || stdout.String() != want {
		t.Fatalf("replay through mode=ro: %d %q %q, want %q", code, stdout.String(), stderr.String(), want)
	}
}

// Store URLs in messages show no password, wherever the URL carries it.
// redactURL shows no password, and what it cannot look into it does not
// show: a keyword/value connection string, an opaque URL, a fragment, a
// user part that did not parse as one (an unescaped password), a
// parameter named for a secret.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:sekrit@h/db":                           "postgres://u:xxxxx@h/db",
		"postgres://u@h/db?password=sekrit&x=1":              "postgres://u@h/db?(parameters not shown)",
		"postgres://u@h/db?sslmode=disable":                  "postgres://u@h/db?sslmode=disable",
		"postgres://u@h/db?password=sekrit;x":                "postgres://u@h/db?(parameters not shown)",
		"file:///d/blob":                                     "file:///d/blob",
		"::not a url, password=sekrit":                       "(unparsable url)",
		"host=h password=sekrit user=u":                      "(not a url: not shown)",
		"postgres:u:sekrit@h/db":                             "postgres:(not shown)",
		"postgres://h/db#password=sekrit":                    "postgres://h/db",
		"postgres://u@h/db?sslkey=/k.pem&sslpassword=sekrit": "postgres://u@h/db?(parameters not shown)",
		"postgres://u:?sekrit@h/db":                          "postgres://(not shown)",
		"postgres://u:/sekrit@h/db":                          "postgres://(not shown)",
		"postgres://u:1234?sekrit@h/db":                      "postgres://(not shown)",
		"s3://bucket/dir?region=us-east-1":                   "s3://bucket/dir?region=us-east-1",
		"s3://b?ssetype=aws:kms&kmskeyid=sekrit":             "s3://b?(parameters not shown)",
		"s3://b?role=arn:aws:iam::1:role/sekrit":             "s3://b?(parameters not shown)",
		"sqlite:///var/lib/shardflow/consensus.db":           "sqlite:///var/lib/shardflow/consensus.db",
		"postgres://u%3Asekrit@h/db":                         "postgres://u%3Asekrit@h/db", // a name, shown as written
		"postgres://u%40x:sekrit@h/db":                       "postgres://u%40x:xxxxx@h/db",
	} {
		if got := redactURL(in); got != want || (strings.Contains(got, "sekrit") && !strings.Contains(in, "%3Asekrit")) {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// The read-only fallback is not tried where the store could not be reached
// or the command was stopped: it would fail the same way, after as long.
func TestMayBeReadOnly(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		ctx  context.Context
		err  error
		want bool
	}{
		{context.Background(), fmt.Errorf("open: %w", fs.ErrPermission), true},
		{context.Background(), errors.New("sqlite: this process cannot write the database"), true},
		{context.Background(), fmt.Errorf("postgres: connect: %w", refused), false},
		{context.Background(), fmt.Errorf("open: %w", context.DeadlineExceeded), false},
		{done, errors.New("interrupted"), false},
	} {
		if got := mayBeReadOnly(c.ctx, c.err); got != c.want {
			t.Errorf("mayBeReadOnly(%v) = %t, want %t", c.err, got, c.want)
		}
	}
}

// The commands that read (shards, inspect, replay) create no directory:
// not a --blob directory that does not exist, nor the blob directory of a
// --location whose shards are all inline and which has lost it. They read
// such a location all the same. (Before, opening the blob store created
// the directory.)
func TestReadCommandsCreateNothing(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if code, _, errOut := run(t, ctx, dir, `{"key":"a","val":1,"time":0}`, "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	blobDir := filepath.Join(dir, "data", "blob")
	if err := os.Remove(blobDir); err != nil {
		t.Fatalf("the blob directory of an inline shard: %v", err)
	}
	reads := [][]string{{"shards"}, {"inspect", "--shard", "s", "--verify"}, {"replay", "--shard", "s"}}
	for _, args := range reads {
		if code, out, errOut := run(t, ctx, dir, "", args...); code != ExitOK || out == "" {
			t.Errorf("%v: status %d, %q %q", args, code, out, errOut)
		}
		if _, err := os.Stat(blobDir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%v recreated %s (stat: %v)", args, blobDir, err)
		}
	}
	for _, args := range reads {
		elsewhere := filepath.Join(t.TempDir(), "elsewhere")
		args = append([]string{"--blob", location.PathURL("file", elsewhere), "--consensus", location.PathURL("sqlite", filepath.Join(dir, "data", "consensus.db"))}, args...)
		var out, errOut bytes.Buffer
		if code := Main(ctx, args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}); code != ExitOK {
			t.Errorf("%v: status %d, %q", args, code, errOut.String())
		}
		if _, err := os.Stat(elsewhere); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%v created %s (stat: %v)", args, elsewhere, err)
		}
	}
}

// A replay --follow of a location that has lost its blob directory (its
// batches all inline) sees a batch a writer puts in a blob later, which
// recreates the directory. (A first fix of TestReadCommandsCreateNothing
// read the missing directory as empty for good: the follow froze with
// status 3, the blob "missing".)
func TestFollowSeesBlobDirCreatedLater(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if code, _, errOut := run(t, ctx, dir, `{"key":"a","val":1,"time":0}`, "write", "--shard", "s"); code != ExitOK {
		t.Fatal(errOut)
	}
	if err := os.Remove(filepath.Join(dir, "data", "blob")); err != nil {
		t.Fatal(err)
	}
	out, done, cancel := startFollow(ctx, dir, "s")
	defer cancel()
	waitOutput(t, out, done, `{"frontier":[1]}`)
	if code, _, errOut := run(t, ctx, dir, `{"key":"b","val":2,"time":1}`, "write", "--shard", "s", "--inline-max-bytes", "0"); code != ExitOK {
		t.Fatal(errOut)
	}
	waitOutput(t, out, done, `{"key":"b","val":2,"time":1,"diff":1}`)
	cancel()
	if code := waitDone(t, done, "replay --follow"); code != ExitOK {
		t.Fatalf("status %d: %s", code, out.String())
	}
}

// A --blob or --consensus URL that names no store (an unknown scheme, a
// parameter its backend does not know, a bad mode, a URL that does not
// parse) is a bad flag value: status 2, nothing opened. A store that
// cannot be reached stays a failure, status 1. (Before, every one was 1.)
func TestBadStoreURLIsUsageError(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--blob", "ftp://host/dir", "--consensus", "mem://", "shards"}, ExitUsage},
		{[]string{"--blob", "mem://", "--consensus", "sqlite:x.db?mode=rw&bogus=1", "shards"}, ExitUsage},
		{[]string{"--blob", "file:blob?mode=rw", "--consensus", "mem://", "shards"}, ExitUsage},
		{[]string{"--blob", "mem://", "--consensus", "gopher://x", "write", "--shard", "s"}, ExitUsage},
		{[]string{"--blob", "mem://", "--consensus", "postgres://u:p/ss@h/db", "shards"}, ExitUsage},
		{[]string{"--blob", "s3://bucket?region=r&bogus=1", "--consensus", "mem://", "shards"}, ExitUsage},
		{[]string{"--blob", "s3://bucket?accelerate=maybe", "--consensus", "mem://", "shards"}, ExitUsage},
		{[]string{"--blob", "s3://bucket?region=r&kmskeyid=SECRETKEY&prefix=", "--consensus", "mem://", "shards"}, ExitUsage},
		{[]string{"--blob", "s3://bucket?key=k", "--consensus", "mem://", "shards"}, ExitUsage},
		{[]string{"--blob", "ftp://host/dir", "--consensus", location.PathURL("sqlite", filepath.Join(dir, "missing.db")), "shards"}, ExitUsage},
		{[]string{"--blob", "file://" + filepath.Join(dir, "f", "blob"), "--consensus", location.PathURL("sqlite", filepath.Join(dir, "nothing", "c.db")), "write", "--shard", "s"}, ExitFailure},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), tc.args, Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
		if code != tc.want {
			t.Errorf("shardflow %s: status %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.want, stderr.String())
		}
		if strings.Contains(stderr.String(), "SECRET") {
			t.Errorf("shardflow %s: stderr quotes a secret:\n%s", strings.Join(tc.args, " "), stderr.String())
		}
	}
}

// Keys another writer stored spanning lines print on one line, and those
// that print alike consolidate and sort as they print: [1,\n2] +1 and
// [1,2] -1 cancel, and [1,\n3] comes after [1, 2]. (Before, the line broke
// in two; then, compacted only as printed, the two cancelling keys printed
// as two lines, out of order.)
func TestReplayKeysSpanningLines(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	loc, err := persist.DefaultLocation(ctx, dir+"/data")
	if err != nil {
		t.Fatal(err)
	}
	c := persist.NewClient(loc, persist.ClientOptions{})
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	ups := []persist.Update{
		{Key: []byte("[1,\n2]"), Val: []byte("1"), Time: 0, Diff: 1},
		{Key: []byte("[1,2]"), Val: []byte("1"), Time: 0, Diff: -1},
		{Key: []byte("[1,\r\n3]"), Val: []byte("{\"a\":\n1}"), Time: 0, Diff: 1},
		{Key: []byte("[1, 2]"), Val: []byte("1"), Time: 0, Diff: 1},
	}
	if err := w.CompareAndAppend(ctx, ups, frontier.From[frontier.Time](0), frontier.From[frontier.Time](1)); err != nil {
		t.Fatal(err)
	}
	w.Close(ctx)
	loc.Close()
	code, out, errOut := run(t, ctx, dir, "", "replay", "--shard", "s")
	want := `{"key":[1, 2],"val":1,"time":0,"diff":1}` + "\n" +
		`{"key":[1,3],"val":{"a":1},"time":0,"diff":1}` + "\n" +
		`{"frontier":[]}` + "\n"
	if code != ExitOK || out != want {
		t.Fatalf("replay: status %d %q\n got %q\nwant %q", code, errOut, out, want)
	}
}
