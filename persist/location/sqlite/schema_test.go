package sqlite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/sqlite"
)

// layout0 is the first table layout, as the first release created it.
const layout0 = `CREATE TABLE consensus (
	key   TEXT    NOT NULL,
	seqno INTEGER NOT NULL,
	data  BLOB    NOT NULL,
	PRIMARY KEY (key, seqno)
) WITHOUT ROWID`

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestMigratesLayout0: a database written by the first layout opens with
// every version intact, in the rowid layout, and takes new versions. A
// read-only handle opened before the migration, its statements prepared
// against the old table, reads the new one.
func TestMigratesLayout0(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	old := rawDB(t, path)
	if _, err := old.Exec(layout0); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b"} {
		for s := 1; s <= 3; s++ {
			if _, err := old.Exec(`INSERT INTO consensus VALUES (?, ?, ?)`, key, s, fmt.Sprintf("%s%d", key, s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	ro, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if v, ok, err := ro.Head(ctx, "a"); err != nil || !ok || v.SeqNo != 3 {
		t.Fatalf("read-only head before migration: %v, %v, %v", v, ok, err)
	}

	c := open(t, path)
	defer c.Close()
	for _, key := range []string{"a", "b"} {
		vs, err := c.Scan(ctx, key, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 3 {
			t.Fatalf("%s: %d versions after migration, want 3", key, len(vs))
		}
		for i, v := range vs {
			if want := fmt.Sprintf("%s%d", key, i+1); v.SeqNo != location.SeqNo(i+1) || !bytes.Equal(v.Data, []byte(want)) {
				t.Fatalf("%s: version %d is (%d, %q), want (%d, %q)", key, i, v.SeqNo, v.Data, i+1, want)
			}
		}
	}
	three := location.SeqNo(3)
	res, err := c.CompareAndSet(ctx, "a", &three, location.VersionedData{SeqNo: 4, Data: []byte("a4")})
	if err != nil || res != location.Committed {
		t.Fatalf("compare-and-set after migration: %v, %v", res, err)
	}
	if v, ok, err := ro.Head(ctx, "a"); err != nil || !ok || v.SeqNo != 4 || string(v.Data) != "a4" {
		t.Fatalf("read-only head after migration: %v, %v, %v; want version 4", v, ok, err)
	}
	if vs, err := ro.Scan(ctx, "a", 3, 10); err != nil || len(vs) != 2 || vs[1].SeqNo != 4 {
		t.Fatalf("read-only scan after migration: %v, %v; want versions 3 and 4", vs, err)
	}

	db := rawDB(t, path)
	var ddl string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'consensus'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(ddl), "WITHOUT ROWID") {
		t.Fatalf("consensus still WITHOUT ROWID after migration: %s", ddl)
	}
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 1 {
		t.Fatalf("%d tables after migration, want only consensus", tables)
	}
}

// TestReopenKeepsLayout: opening a migrated database again changes nothing.
func TestReopenKeepsLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	c := open(t, path)
	if _, err := c.CompareAndSet(t.Context(), "k", nil, location.VersionedData{SeqNo: 1, Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, path)
	defer c.Close()
	v, ok, err := c.Head(t.Context(), "k")
	if err != nil || !ok || string(v.Data) != "x" {
		t.Fatalf("head after reopen: %+v, %v, %v", v, ok, err)
	}
}

// TestSchemaTooNew: a layout from newer code is refused, not rewritten.
func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consensus.db")
	open(t, path).Close()
	db := rawDB(t, path)
	if _, err := db.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err == nil {
		c.Close()
		t.Fatal("opened a database of layout 99")
	}
	if !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Fatalf("error %v does not wrap ErrSchemaTooNew", err)
	}
}

// BenchmarkCompareAndSetLargeState: compare-and-set of 300 KB versions,
// the size of a shard state holding about 1500 batches. With the first
// layout this cost about three times as much as a small version.
func BenchmarkCompareAndSetLargeState(b *testing.B) {
	c, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "consensus.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte{7}, 300<<10)
	var expected *location.SeqNo
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		next := location.SeqNo(i + 1)
		res, err := c.CompareAndSet(b.Context(), "k", expected, location.VersionedData{SeqNo: next, Data: data})
		if err != nil || res != location.Committed {
			b.Fatalf("compare-and-set %d: %v, %v", next, res, err)
		}
		expected = &next
	}
}

// TestOpenRefusesOtherFiles: a file that is not an SQLite database, and
// another program's database, are refused by both kinds of Open with a
// typed error, and left byte for byte as they were: the consensus log is
// not made by adding a table to someone else's file.
func TestOpenRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not sqlite "), 500), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	db := rawDB(t, other)
	if _, err := db.Exec(`CREATE TABLE users (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	versioned := filepath.Join(dir, "versioned.db") // no tables, user_version 1
	db = rawDB(t, versioned)
	if _, err := db.Exec(`PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	app := filepath.Join(dir, "app.db") // many programs set a user_version
	db = rawDB(t, app)
	if _, err := db.Exec(`CREATE TABLE t (x); PRAGMA user_version = 42`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// A program's database copied while it ran, its last commit still in
	// the -wal file: a connection that may write would recover it and
	// check it into the database file when it closed.
	running := filepath.Join(dir, "running.db")
	db = rawDB(t, running+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)")
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ann')`); err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(dir, "crashed.db")
	copyFiles(t, running, crashed, "", "-wal")
	db.Close()
	walApp := filepath.Join(dir, "walapp.db") // in WAL mode, closed cleanly
	db = rawDB(t, walApp+"?_pragma=journal_mode(WAL)")
	if _, err := db.Exec(`CREATE TABLE users (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// A program's rollback-journal database left in the middle of a
	// transaction whose pages spilled into the file: the journal is hot,
	// and a connection that may write would roll it back.
	hot := filepath.Join(dir, "hot.db")
	midCommit(t, hot, foreign, foreignTx, nil)
	// The same, as if the program died writing page 1: read as it is, the
	// file is malformed (SQLITE_CORRUPT, no refusal); rolled back, it is
	// the program's database again. (The new table puts page 1, the
	// schema, in the journal.)
	torn := filepath.Join(dir, "torn.db")
	midCommit(t, torn, foreign, foreignTx, func(page1 []byte) {
		page1[100] = 0xff // the schema page's b-tree page type
	})
	// hot.db with an empty -wal beside it, as a program that kept its WAL
	// file and died switching to a rollback journal leaves it: the look
	// through the WAL cannot read it (the journal must be played back
	// first), which is no refusal.
	hotWAL := filepath.Join(dir, "hotwal.db")
	copyFiles(t, hot, hotWAL, "", "-journal")
	if err := os.WriteFile(hotWAL+"-wal", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A program dropping its only table, dead after writing page 1 of the
	// commit: as it is, the file looks like an empty database, which Open
	// would make a log of.
	dropped := filepath.Join(dir, "dropped.db")
	empty := rawDB(t, filepath.Join(dir, "empty.db"))
	if _, err := empty.Exec(`CREATE TABLE t (x); DROP TABLE t`); err != nil {
		t.Fatal(err)
	}
	empty.Close()
	emptyPage1, err := os.ReadFile(filepath.Join(dir, "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	midCommit(t, dropped, foreign, `DROP TABLE t`, func(page1 []byte) {
		copy(page1, emptyPage1[:4096])
	})

	// files reads the database file and the files SQLite keeps beside it.
	files := func(path string) map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			data, err := os.ReadFile(path + suffix)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			out[suffix] = string(data)
		}
		return out
	}
	// kept fails unless every file of before is in after as it was, and
	// after has no other file but those extra allows.
	kept := func(name string, before, after map[string]string, extra ...string) {
		t.Helper()
		for suffix, data := range before {
			if after[suffix] != data {
				t.Errorf("%s: %s%s changed", name, name, suffix)
			}
		}
		for suffix := range after {
			if _, ok := before[suffix]; !ok && !slices.Contains(extra, suffix) {
				t.Errorf("%s: %s%s was created", name, name, suffix)
			}
		}
	}
	for _, c := range []struct {
		path string
		want error
		// readOnlyAny: a read-only Open, which cannot roll the journal
		// back, fails without telling whose database it is (but says
		// why).
		readOnlyAny bool
	}{
		{garbage, sqlite.ErrNotDatabase, false}, {other, sqlite.ErrNotConsensus, false}, {versioned, sqlite.ErrNotConsensus, false},
		{app, sqlite.ErrNotConsensus, false}, {crashed, sqlite.ErrNotConsensus, false}, {walApp, sqlite.ErrNotConsensus, false},
		{hot, sqlite.ErrNotConsensus, true}, {torn, sqlite.ErrNotConsensus, true}, {dropped, sqlite.ErrNotConsensus, true},
		{hotWAL, errHotJournal, true},
	} {
		name := filepath.Base(c.path)
		for _, readOnly := range []bool{false, true} {
			before := files(c.path)
			cons, err := sqlite.Open(t.Context(), c.path, sqlite.Options{ReadOnly: readOnly})
			if err == nil {
				cons.Close()
				t.Fatalf("%s (read-only %v): opened", name, readOnly)
			}
			if (readOnly && c.readOnlyAny) || c.want == errHotJournal {
				if !strings.Contains(err.Error(), "hot rollback journal") {
					t.Errorf("%s (read-only %v): %v does not name the hot journal", name, readOnly, err)
				}
			} else if !errors.Is(err, c.want) {
				t.Errorf("%s (read-only %v): %v, want %v", name, readOnly, err, c.want)
			}
			if location.IsIndeterminate(err) {
				t.Errorf("%s (read-only %v): %v is indeterminate", name, readOnly, err)
			}
			switch {
			case readOnly:
				// A read-only Open may leave the -wal and -shm files
				// SQLite reads a WAL database through (see the doc).
				kept(name, before, files(c.path), "-wal", "-shm")
			case c.path == crashed:
				// Its tables are in the -wal only, read through a -shm.
				kept(name, before, files(c.path), "-shm")
			default:
				kept(name, before, files(c.path))
			}
		}
	}
}

// TestOpenPutsTheFileInWAL: a new file, and a log of the first layout
// left in rollback-journal mode, are in WAL mode once opened for writing:
// what lets read-only followers read beside the writer.
func TestOpenPutsTheFileInWAL(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	old := filepath.Join(dir, "layout0.db")
	db := rawDB(t, old)
	if _, err := db.Exec(layout0); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, path := range []string{fresh, old} {
		open(t, path).Close()
		var mode string
		if err := rawDB(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Errorf("%s: journal mode %q after Open, want wal", filepath.Base(path), mode)
		}
	}
}

// foreign is another program's database; foreignTx, a transaction of it
// whose pages spill into the file before it ends, and which puts page 1
// (the schema) in its journal.
const (
	foreign = `CREATE TABLE t (x);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
		INSERT INTO t SELECT randomblob(200) FROM n`
	foreignTx = `UPDATE t SET x = randomblob(200); CREATE TABLE u (y)`
)

// copyFiles copies from+suffix to to+suffix for each suffix ("" is the
// file itself).
func copyFiles(t *testing.T, from, to string, suffixes ...string) {
	t.Helper()
	for _, suffix := range suffixes {
		data, err := os.ReadFile(from + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+suffix, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// errHotJournal, as the error TestOpenRefusesOtherFiles wants, stands for
// any error that names the hot rollback journal.
var errHotJournal = errors.New("an error naming the hot rollback journal")

// midCommit makes dst, and dst-journal, what a program leaves that dies
// in the middle of transaction tx, run after setup on a database in
// rollback-journal mode (setup may be empty: a new file), once tx's pages
// have spilled into the file and its journal is hot. damage, if given, changes page 1 of dst as a torn
// write would.
func midCommit(t *testing.T, dst, setup, tx string, damage func(page1 []byte)) {
	t.Helper()
	live := filepath.Join(t.TempDir(), "live.db")
	db := rawDB(t, live+"?_pragma=journal_mode(DELETE)&_pragma=cache_size(1)")
	db.SetMaxOpenConns(1)
	if setup != "" {
		if _, err := db.Exec(setup); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(live)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	txn, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Rollback()
	if _, err := txn.Exec(tx); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-journal"} {
		data, err := os.ReadFile(live + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if suffix == "" {
			if bytes.Equal(data, committed) {
				t.Fatal("no page of the transaction reached the file: its journal is not needed")
			}
			if damage != nil {
				damage(data[:4096])
			}
		}
		if err := os.WriteFile(dst+suffix, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenRecoversItsOwnHotJournal: a log this package left mid-commit in
// rollback-journal mode (a layout-0 log being migrated, or a new log being
// created), page 1 torn or its header lost, is its own: the look before a
// writable open sees it rolled back, on a copy, and lets the open roll it
// back, with every committed version intact. (A look that refused any
// file with a hot journal, or any file whose header does not read, would
// leave such a log unopenable.)
func TestOpenRecoversItsOwnHotJournal(t *testing.T) {
	const versions = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 200)
		INSERT INTO consensus SELECT 'k', i, randomblob(500) FROM n`
	for _, c := range []struct {
		name, setup, tx string
		want            int // versions committed
	}{
		{"migrating", layout0 + ";" + versions, `UPDATE consensus SET data = randomblob(600); CREATE TABLE u (y)`, 200},
		{"creating", "", layout0 + ";" + versions, 0},
	} {
		for _, damage := range []struct {
			name string
			fn   func([]byte)
		}{
			{"page type", func(p []byte) { p[100] = 0xff }},
			{"header zeroed", func(p []byte) { clear(p[:100]) }},
		} {
			t.Run(c.name+"/"+damage.name, func(t *testing.T) {
				own := filepath.Join(t.TempDir(), "own.db")
				midCommit(t, own, c.setup, c.tx, damage.fn)
				// A read-only Open cannot play the journal back, and must
				// not read the file's uncommitted pages as they are.
				if ro, err := sqlite.Open(t.Context(), own, sqlite.Options{ReadOnly: true}); err == nil {
					ro.Close()
					t.Fatal("a read-only Open read a log with a hot journal")
				} else if !strings.Contains(err.Error(), "hot rollback journal") {
					t.Fatalf("read-only: %v does not name the hot journal", err)
				}
				cons := open(t, own)
				defer cons.Close()
				got, err := cons.Scan(t.Context(), "k", 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != c.want {
					t.Fatalf("%d versions after recovery, want %d", len(got), c.want)
				}
				for i, v := range got {
					if v.SeqNo != location.SeqNo(i+1) || len(v.Data) != 500 {
						t.Fatalf("version %d is (%d, %d bytes), want (%d, 500 bytes) as committed", i, v.SeqNo, len(v.Data), i+1)
					}
				}
			})
		}
	}
}

// TestOpenFailsWithoutALook: where the look at a file as its hot journal
// would leave it cannot be made (the temporary directory is gone), a
// writable Open fails and leaves the file and journal as they were: it
// does not roll back the journal of a file nobody could say is a log.
func TestOpenFailsWithoutALook(t *testing.T) {
	dir := t.TempDir()
	torn := filepath.Join(dir, "torn.db")
	midCommit(t, torn, foreign, foreignTx, func(p []byte) { p[100] = 0xff })
	before := map[string][]byte{}
	for _, suffix := range []string{"", "-journal"} {
		data, err := os.ReadFile(torn + suffix)
		if err != nil {
			t.Fatal(err)
		}
		before[suffix] = data
	}
	t.Setenv("TMPDIR", filepath.Join(dir, "gone"))
	c, err := sqlite.Open(t.Context(), torn, sqlite.Options{})
	if err == nil {
		c.Close()
		t.Fatal("opened")
	}
	if !strings.Contains(err.Error(), "hot rollback journal") {
		t.Errorf("%v does not name the hot journal", err)
	}
	for suffix, data := range before {
		now, err := os.ReadFile(torn + suffix)
		if err != nil || !bytes.Equal(now, data) {
			t.Errorf("torn.db%s changed (%v)", suffix, err)
		}
	}
}

// TestOpenLooksInAnyTempDir: the private copy of a file with a hot journal
// is opened as a URI, so a temporary directory whose name holds a '?' is
// no query: the copy is the one looked at, and the foreign file is
// refused and left alone. (Opened by plain path, the name was cut at the
// '?', an empty database made there passed the look, and the writable
// open rolled the foreign journal back.)
func TestOpenLooksInAnyTempDir(t *testing.T) {
	dir := t.TempDir()
	torn := filepath.Join(dir, "torn.db")
	midCommit(t, torn, foreign, foreignTx, func(p []byte) { p[100] = 0xff })
	journal, err := os.ReadFile(torn + "-journal")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "a?mode=memory")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	c, err := sqlite.Open(t.Context(), torn, sqlite.Options{})
	if err == nil {
		c.Close()
		t.Fatal("opened")
	}
	if !errors.Is(err, sqlite.ErrNotConsensus) {
		t.Errorf("%v, want %v", err, sqlite.ErrNotConsensus)
	}
	if now, err := os.ReadFile(torn + "-journal"); err != nil || !bytes.Equal(now, journal) {
		t.Errorf("the journal changed (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was made where the temporary directory's name is cut at '?' (%v)", err)
	}
}
