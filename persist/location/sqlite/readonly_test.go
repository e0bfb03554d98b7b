package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/sqlite"
	"github.com/shardflow/shardflow/persist/persisttest"
	"golang.org/x/sync/errgroup"
)

// roChildEnv names the database a child process opens read-only, printing
// the head of key "k" as "head SEQNO DATA".
const roChildEnv = "SHARDFLOW_SQLITE_RO_CHILD_DB"

func roChildMain(path string) int {
	c := openChildRO(path)
	if c == nil {
		return 1
	}
	defer c.Close()
	v, ok, err := c.Head(context.Background(), "k")
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "child: head:", ok, err)
		return 1
	}
	fmt.Printf("head %d %s\n", v.SeqNo, v.Data)
	return 0
}

// openChildRO opens path read-only for a child process, or says why it
// could not and returns nil.
func openChildRO(path string) *sqlite.Consensus {
	c, err := sqlite.Open(context.Background(), path, sqlite.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return nil
	}
	return c
}

// roLoopEnv names the database a child process opens read-only and reads
// the head of key "k" from, again and again, until its standard input
// closes; it then reads it once more and prints "reads N failed F last S",
// S the seqno of that last read, and the first failure.
const roLoopEnv = "SHARDFLOW_SQLITE_RO_LOOP_DB"

func roLoopMain(path string) int {
	c := openChildRO(path)
	if c == nil {
		return 1
	}
	defer c.Close()
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	reads, failed := 0, 0
	var first error
	if _, _, err := c.Head(context.Background(), "k"); err != nil {
		fmt.Fprintln(os.Stderr, "child: first head:", err)
		return 1
	}
	fmt.Println("reading")
	for {
		select {
		case <-stop:
			last, _, err := c.Head(context.Background(), "k")
			if err != nil {
				failed++
			}
			fmt.Printf("reads %d failed %d last %d\n", reads, failed, last.SeqNo)
			if first != nil {
				fmt.Println(first)
			}
			return 0
		default:
		}
		reads++
		if _, ok, err := c.Head(context.Background(), "k"); err != nil || !ok {
			failed++
			if first == nil {
				first = fmt.Errorf("head: %v %v", ok, err)
			}
		}
	}
}

func openRO(t *testing.T, path string) *sqlite.Consensus {
	t.Helper()
	c, err := sqlite.Open(t.Context(), path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// commit appends version seqno of key k with data.
func commit(t *testing.T, c location.Consensus, seqno location.SeqNo, data string) {
	t.Helper()
	var expected *location.SeqNo
	if seqno > 1 {
		prev := seqno - 1
		expected = &prev
	}
	res, err := c.CompareAndSet(t.Context(), "k", expected, location.VersionedData{SeqNo: seqno, Data: []byte(data)})
	if err != nil || res != location.Committed {
		t.Fatalf("compare-and-set %d: %v %v", seqno, res, err)
	}
}

// listing names each file of dir with its size and modification time,
// but for the -wal and -shm files a read-only connection may leave where
// it can create them (SQLite's own, and empty of commits).
func listing(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-wal") || strings.HasSuffix(e.Name(), "-shm") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %d", e.Name(), fi.Size(), fi.ModTime().UnixNano()))
	}
	return out
}

// A read-only handle reads what was written, refuses every write with
// ErrReadOnly, and changes neither the database nor the notify file. The directory's
// name needs escaping in the file: URI the handle is opened with.
func TestReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b%c")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "consensus.db")
	rw := open(t, path)
	commit(t, rw, 1, "one")
	commit(t, rw, 2, "two")
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	before := listing(t, dir)

	u, _ := url.Parse(location.PathURL("sqlite", path) + "?mode=ro")
	c, err := location.OpenConsensus(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Head(t.Context(), "k"); err != nil || !ok || v.SeqNo != 2 || string(v.Data) != "two" {
		t.Fatalf("head: %v %v %v", v, ok, err)
	}
	if vs, err := c.Scan(t.Context(), "k", 0, 10); err != nil || len(vs) != 2 {
		t.Fatalf("scan: %v %v", vs, err)
	}
	if keys, err := c.ListKeys(t.Context()); err != nil || !slices.Equal(keys, []string{"k"}) {
		t.Fatalf("list keys: %v %v", keys, err)
	}
	two := location.SeqNo(2)
	_, err = c.CompareAndSet(t.Context(), "k", &two, location.VersionedData{SeqNo: 3, Data: []byte("three")})
	if !errors.Is(err, location.ErrReadOnly) || location.IsIndeterminate(err) {
		t.Fatalf("compare-and-set on a read-only handle: %v", err)
	}
	if _, err := c.Truncate(t.Context(), "k", 2); !errors.Is(err, location.ErrReadOnly) || location.IsIndeterminate(err) {
		t.Fatalf("truncate on a read-only handle: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if after := listing(t, dir); !slices.Equal(before, after) {
		t.Fatalf("a read-only handle changed its directory:\nbefore %v\nafter  %v", before, after)
	}
}

// A read-only open creates nothing, and refuses a file that is not a
// consensus database or is of a newer layout.
func TestReadOnlyRefuses(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := sqlite.Open(t.Context(), missing, sqlite.Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a read-only open of a missing file created it: %v", err)
	}

	other := filepath.Join(dir, "other.db")
	db := rawDB(t, other)
	if _, err := db.Exec(`CREATE TABLE notes (x TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := sqlite.Open(t.Context(), other, sqlite.Options{ReadOnly: true}); !errors.Is(err, sqlite.ErrNotConsensus) {
		t.Errorf("database without a consensus table: %v", err)
	}

	newer := filepath.Join(dir, "newer.db")
	open(t, newer).Close()
	db = rawDB(t, newer)
	if _, err := db.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := sqlite.Open(t.Context(), newer, sqlite.Options{ReadOnly: true}); !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Errorf("layout 99: %v", err)
	}

	for _, raw := range []string{"sqlite:x.db?mode=rw", "sqlite:x.db?mode=RO", "sqlite:x.db?mode=rwc"} {
		u, _ := url.Parse(raw)
		if _, _, err := sqlite.ParseURL(u); err == nil {
			t.Errorf("ParseURL(%q) accepted", raw)
		}
	}
	u, _ := url.Parse("sqlite:x.db?mode=ro&busy_timeout=1s")
	if _, opts, err := sqlite.ParseURL(u); err != nil || !opts.ReadOnly || opts.BusyTimeout != time.Second {
		t.Errorf("ParseURL(mode=ro): %+v %v", opts, err)
	}
}

// A read-only handle's Watch wakes on another handle's commit.
func TestReadOnlyWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	rw := open(t, path)
	defer rw.Close()
	commit(t, rw, 1, "one") // creates the notify file
	ro := openRO(t, path)
	defer ro.Close()
	ch, cancel, err := ro.Watch(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	commit(t, rw, 2, "two")
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10s of a commit")
	}
	if v, _, err := ro.Head(t.Context(), "k"); err != nil || v.SeqNo != 2 {
		t.Fatalf("head after the notification: %v %v", v, err)
	}
}

// A process that cannot write the database's directory reads it
// read-only: once it was closed cleanly (no -wal file: opened as
// immutable), and while a writer has it open (through the writer's -wal
// and -shm files, seeing the writer's last commit). The reading process is
// a child that the file modes bind (see persisttest.ReadOnlyChild).
func TestReadOnlyUnwritableDir(t *testing.T) {
	base, dir, path := closedDatabase(t)
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a -wal file after a clean close: %v", err)
	}
	read := readerAs(t, base, path)

	// Closed cleanly: nothing to read the WAL through.
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if got := read(); got != "head 1 one" {
		t.Fatalf("closed database read as %q", got)
	}

	// A writer holds it open: its last commit is in the WAL.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	rw := open(t, path)
	defer rw.Close()
	commit(t, rw, 2, "two")
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "head 2 two" {
		t.Fatalf("database with a live writer read as %q", got)
	}
}

// closedDatabase makes a directory under a new base directory holding a
// database with version 1 of key "k", closed cleanly (no -wal file).
func closedDatabase(t *testing.T) (base, dir, path string) {
	t.Helper()
	base = t.TempDir()
	dir = filepath.Join(base, "db")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "consensus.db")
	rw := open(t, path)
	commit(t, rw, 1, "one")
	closeAll(t, rw)
	return base, dir, path
}

// readerAs returns a function that opens path read-only in a child process
// that the file modes the test sets bind (see persisttest.ReadOnlyChild).
func readerAs(t *testing.T, base, path string) func() string {
	t.Helper()
	bin, attr := persisttest.ReadOnlyChild(t, base, "sqlite.test")
	return func() string {
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = append(os.Environ(), roChildEnv+"="+path)
		cmd.SysProcAttr = attr
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("read-only child: %v\n%s", err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
}

// A handle opened as immutable (the read-only fallback for a database
// nothing writes) does not serve stale or torn pages once a writer comes:
// a read that finds the file written opens the database again and reads
// what is there now, while the writer holds the database open (a -wal
// file) and after it has closed it again (the file changed). (Before, every
// read failed with ErrChangedWhileImmutable from then on.) Reads racing
// commits see a version at least as new as the last one committed before
// they began.
func TestImmutableNoticesWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	rw := open(t, path)
	commit(t, rw, 1, "one")
	closeAll(t, rw)
	openImmutable := func() *sqlite.Consensus {
		t.Helper()
		c, err := sqlite.OpenImmutable(t.Context(), path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ro := openImmutable()
	if v, ok, err := ro.Head(t.Context(), "k"); err != nil || !ok || v.SeqNo != 1 {
		t.Fatalf("head before any writer: %v %v %v", v, ok, err)
	}
	rw = open(t, path)
	commit(t, rw, 2, "two")
	if v, ok, err := ro.Head(t.Context(), "k"); err != nil || !ok || v.SeqNo != 2 || string(v.Data) != "two" {
		t.Fatalf("head with a writer holding the database: %v %v %v, want version 2", v, ok, err)
	}
	// ro, opened again through the writer's WAL, keeps its -wal file:
	// once it is closed, a writer's close removes it, and the file opens
	// as immutable again.
	closeAll(t, rw, ro, open(t, path))

	ro = openImmutable()
	rw = open(t, path)
	commit(t, rw, 3, "three")
	closeAll(t, rw)
	if vs, err := ro.Scan(t.Context(), "k", 0, 10); err != nil || len(vs) != 3 || vs[2].SeqNo != 3 {
		t.Fatalf("scan after the writer closed: %v %v, want versions 1-3", vs, err)
	}
	if keys, err := ro.ListKeys(t.Context()); err != nil || !slices.Equal(keys, []string{"k"}) {
		t.Fatalf("list keys after the writer closed: %v %v", keys, err)
	}
	closeAll(t, ro, open(t, path))

	// Concurrent reads while a writer commits: each sees a version at
	// least as new as the last one committed before it began.
	ro = openImmutable()
	defer ro.Close()
	rw = open(t, path)
	defer rw.Close()
	var committed atomic.Uint64
	committed.Store(3)
	done := make(chan struct{})
	var g errgroup.Group
	for range 4 {
		g.Go(func() error {
			for {
				select {
				case <-done:
					return nil
				default:
				}
				before := committed.Load()
				v, ok, err := ro.Head(t.Context(), "k")
				if err != nil {
					return err
				}
				if !ok || uint64(v.SeqNo) < before {
					return fmt.Errorf("head %v %v after version %d was committed", v, ok, before)
				}
			}
		})
	}
	for s := location.SeqNo(4); s < 40; s++ {
		commit(t, rw, s, fmt.Sprint(s))
		committed.Store(uint64(s))
	}
	close(done)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// closeAll closes each handle in turn.
func closeAll(t *testing.T, cs ...*sqlite.Consensus) {
	t.Helper()
	for _, c := range cs {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A process that cannot write the database's directory keeps reading it
// while another opens it, commits and closes it, again and again: each
// change is read through the writer's WAL or as an immutable file, and a
// read that is refused meanwhile (the file changed under an immutable
// read; SQLITE_READONLY_RECOVERY, as the writer opens or closes the
// database and the reader cannot recover the WAL itself) opens the
// database again and reads anew. (Before, reads failed with "attempt to
// write a readonly database (264)", about three in a hundred cycles, and
// that failure said the process may not write the database.)
func TestReadOnlyReaderBesideWriterCycles(t *testing.T) {
	base, dir, path := closedDatabase(t)
	bin, attr := persisttest.ReadOnlyChild(t, base, "sqlite.test")
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if os.Geteuid() != 0 {
		// Only root writes a directory of mode 0555: the writer below
		// needs it open, and the reader then merely chooses not to write.
		os.Chmod(dir, 0o755)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), roLoopEnv+"="+path)
	cmd.SysProcAttr = attr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(out)
	if l, err := lines.ReadString('\n'); l != "reading\n" {
		cmd.Wait()
		t.Fatalf("reader: %q %v\n%s", l, err, stderr.String())
	}
	const cycles = 300
	for s := location.SeqNo(2); s < cycles+2; s++ {
		c := open(t, path)
		commit(t, c, s, fmt.Sprint(s))
		closeAll(t, c)
	}
	stdin.Close()
	rest, err := io.ReadAll(lines)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("reader: %v\n%s", err, stderr.String())
	}
	var reads, failed, last int
	if _, err := fmt.Sscanf(string(rest), "reads %d failed %d last %d", &reads, &failed, &last); err != nil {
		t.Fatalf("reader printed %q: %v", rest, err)
	}
	if reads < cycles || failed != 0 || last != cycles+1 {
		t.Fatalf("%d of %d reads failed beside %d write cycles, the last read version %d (want no failure, a read a cycle at least, and version %d):\n%s",
			failed, reads, cycles, last, cycles+1, rest)
	}
}

// Close waits for the reads in progress on other goroutines, and the reads
// after it fail with ErrClosed. (Close once took the handle's mutex before
// the lock reads hold while they take it: a deadlock.)
func TestCloseBesideReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	for round := range 100 {
		c := open(t, path)
		if round == 0 {
			commit(t, c, 1, "one")
		}
		var g errgroup.Group
		started := make(chan struct{}, 4)
		for range 4 {
			g.Go(func() error {
				for i := 0; ; i++ {
					if i == 10 {
						started <- struct{}{}
					}
					if _, _, err := c.Head(t.Context(), "k"); err != nil {
						if errors.Is(err, location.ErrClosed) {
							return nil
						}
						return err
					}
				}
			})
		}
		for range 4 {
			<-started
		}
		closed := make(chan error, 1)
		go func() { closed <- c.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: Close beside reads has not returned in 30 s", round)
		}
		if err := g.Wait(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
