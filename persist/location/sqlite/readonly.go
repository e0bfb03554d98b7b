package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

// ErrNotConsensus is returned by Open for a database with no consensus
// table that is not new: another program's, which is left as it is. A
// read-only Open returns it also for an empty database, one never opened
// for writing.
var ErrNotConsensus = errors.New("sqlite: no consensus table in the database")

// ErrChangedWhileImmutable is returned by a read of a handle opened as
// immutable (see Options.ReadOnly) when the database is written again and
// again while the read opens it anew: SQLite reads such a file without
// locks or WAL, so it could serve stale or torn pages, and a read that
// finds the file changed opens it again (a few times) before it gives up.
var ErrChangedWhileImmutable = errors.New("sqlite: the database was written again and again while it was read as an immutable file")

// fileStamp is what a handle opened as immutable remembers of the file.
type fileStamp struct {
	size  int64
	mtime time.Time
}

// checkUnchanged fails, for a handle opened as immutable, once a writer
// has come: a -wal file exists, or the file's size or time has changed.
// A writer that opened, committed and closed the database within the file
// system's time resolution, and left its size alone, goes unseen: on a
// local disk with nanosecond times that cannot happen, on one with
// one-second times (some network file systems) it can.
func (c *Consensus) checkUnchanged(op string) error {
	if c.immutable == nil {
		return nil
	}
	fi, err := os.Stat(c.path)
	_, werr := os.Stat(c.path + "-wal")
	if err != nil || !errors.Is(werr, fs.ErrNotExist) || fi.Size() != c.immutable.size || !fi.ModTime().Equal(c.immutable.mtime) {
		return location.Determinate(op, fmt.Errorf("sqlite: %s: %w", c.path, ErrChangedWhileImmutable))
	}
	return nil
}

// openReadOnly opens the existing database at abs for reading only.
//
// A WAL database needs its -shm file to be read. While a writer has the
// database open, the -wal and -shm files exist and a read-only connection
// uses them. A database closed cleanly has neither, and a connection that
// cannot create them (the directory is not writable) cannot read it; the
// file is then opened as immutable, which SQLite reads without locks or
// WAL. Immutable is only right while nothing writes, so it is the fallback
// when a plain read-only open fails and there is no -wal file: a process
// that could write here would have left one while it ran, and no hot
// rollback journal, which says the file holds uncommitted pages of a
// writer that died (or is writing in rollback-journal mode). Should a writer
// come later, a read of the handle opens the database again rather than
// serve stale or torn pages (see Consensus.read).
func openReadOnly(ctx context.Context, abs string, busy time.Duration) (*Consensus, error) {
	if _, err := os.Stat(abs); err != nil {
		return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: read-only open: %w", err))
	}
	db, err := openChecked(ctx, abs, busy, false)
	if err != nil {
		err = notDatabase(err)
		if hotJournal(abs) {
			// The file is mid-transaction: as immutable, its uncommitted
			// pages would be read as if committed.
			return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: %s: read-only open: %w (a hot rollback journal is beside it, which only a connection that may write can roll back)", abs, err))
		}
		if _, werr := os.Stat(abs + "-wal"); !errors.Is(werr, fs.ErrNotExist) || errors.Is(err, ErrSchemaTooNew) || errors.Is(err, ErrNotConsensus) || errors.Is(err, ErrNotDatabase) {
			return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: %s: read-only open: %w", abs, err))
		}
		c, ierr := openImmutable(ctx, abs, busy)
		if ierr != nil {
			return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: %s: read-only open: %w (and as immutable: %w)", abs, err, ierr))
		}
		return c, nil
	}
	return newConsensus(ctx, db, abs, true, busy)
}

// openImmutable opens abs as immutable, remembering the file as it is so
// that every read can check no writer has come since (checkUnchanged).
func openImmutable(ctx context.Context, abs string, busy time.Duration) (*Consensus, error) {
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	db, err := openChecked(ctx, abs, busy, true)
	if err != nil {
		return nil, err
	}
	c, err := newConsensus(ctx, db, abs, true, busy)
	if err != nil {
		return nil, err
	}
	c.immutable = &fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if err := c.checkUnchanged("consensus open"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// openChecked opens abs read-only (immutable if asked) and checks that it
// holds a consensus table of a layout this code reads.
func openChecked(ctx context.Context, abs string, busy time.Duration, immutable bool) (*sql.DB, error) {
	db, err := openDB(readOnlyDSN(abs, busy, immutable))
	if err != nil {
		return nil, err
	}
	if err := checkLayout(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// readOnlyDSN is the DSN of a read-only connection to abs.
func readOnlyDSN(abs string, busy time.Duration, immutable bool) string {
	// SQLite takes mode and immutable only from a file: URI; the
	// driver takes its _pragma parameters out before handing it on.
	q := fmt.Sprintf("mode=ro&_pragma=busy_timeout(%d)", busy.Milliseconds())
	if immutable {
		q += "&immutable=1"
	}
	return fileURI(abs) + "?" + q
}

// fileURI is the file: URI of the path abs, which SQLite reads whatever
// characters the path holds (a plain path is cut at a '?').
func fileURI(abs string) string { return "file:" + (&url.URL{Path: abs}).EscapedPath() }

// checkLayout refuses a database without a consensus table (a new one
// too: nothing was ever written there) or one readLayout refuses. Every
// layout it knows has the same columns, so an older one is read as it is.
func checkLayout(ctx context.Context, db *sql.DB) error {
	l, err := readLayout(ctx, db)
	if err == nil && !l.hasTable {
		err = fmt.Errorf("%w: the database is empty", ErrNotConsensus)
	}
	return err
}

// refuseForeign refuses an existing file that is no database, or not one
// this package can use (readLayout), before anything opens it for
// writing: a connection that may write would recover another program's
// leftover WAL or hot journal into it, or check a live program's WAL into
// its file. It decides, in this order:
//  1. a file whose own pages, read as immutable (no lock taken, no file
//     created), show a log this package uses is accepted;
//  2. a file with a -wal, seen before or after that look, is looked at
//     again through the WAL (its own pages may be stale, or torn by a
//     checkpoint): refused if that look refuses it, and failed if that
//     look fails beside a hot rollback journal (no log of this package
//     has both; a connection that may write would play the journal back),
//     and otherwise left to migrate;
//  3. a file that changed meanwhile, without a WAL, is left to migrate,
//     under the write lock (a live writer in rollback-journal mode holds
//     its lock, which keeps a writable open from touching its journal);
//  4. a file whose page 1 reads, and is no log's (ErrNotConsensus,
//     ErrSchemaTooNew), is refused;
//  5. a file with a hot rollback journal (a writer died mid-commit, and
//     its pages as they are may be torn or uncommitted) is decided by a
//     private copy of both, rolled back (lookAtCopy): refused if the copy
//     is refused, and failed if the copy cannot be made or read while
//     neither file moved;
//  6. any other refusal of the look stands (ErrNotDatabase); what the
//     looks cannot tell (a file being created, say) is left to migrate.
func refuseForeign(ctx context.Context, abs string, busy time.Duration) error {
	before, err := os.Stat(abs)
	if err != nil || before.Size() == 0 {
		return nil // nothing there yet
	}
	hasWAL := func() bool { _, err := os.Stat(abs + "-wal"); return err == nil }
	walBefore := hasWAL()
	l, err := lookAt(ctx, readOnlyDSN(abs, busy, true))
	if err == nil && l.objects > 0 {
		return nil // its own pages hold a log this package uses
	}
	if walBefore || hasWAL() {
		_, err := lookAt(ctx, readOnlyDSN(abs, busy, false))
		switch {
		case refused(err):
			return err
		case err != nil && hotJournal(abs):
			return fmt.Errorf("sqlite: it has a hot rollback journal and a WAL beside it, and cannot be read: %w", err)
		}
		return nil
	}
	if !unchanged(abs, before) {
		return nil // written meanwhile: migrate decides
	}
	if errors.Is(err, ErrNotConsensus) || errors.Is(err, ErrSchemaTooNew) {
		// Page 1 reads, and is no log's. No crash of this package leaves
		// one such: migrate changes the layout in one transaction, whose
		// pages reach the file before it commits only when the cache
		// spills, in its INSERT, by which time page 1 holds the new
		// consensus table (the rename before it spills nothing).
		return err
	}
	if hotJournal(abs) {
		jBefore, jerr := os.Stat(abs + "-journal")
		_, cerr := lookAtCopy(ctx, abs)
		switch {
		case refused(cerr):
			return fmt.Errorf("%w (as it is once its hot journal is rolled back)", cerr)
		case cerr != nil && jerr == nil && unchanged(abs, before) && unchanged(abs+"-journal", jBefore):
			return fmt.Errorf("sqlite: it has a hot rollback journal, and it could not be looked at as the journal would leave it: %w", cerr)
		}
		return nil
	}
	if refused(err) {
		return err
	}
	return nil
}

// unchanged reports whether the file at path still has fi's size and
// modification time.
func unchanged(path string, fi fs.FileInfo) bool {
	now, err := os.Stat(path)
	return err == nil && now.Size() == fi.Size() && now.ModTime().Equal(fi.ModTime())
}

// hotJournal reports whether abs may have a rollback journal that a
// connection that may write would play back: one whose header is not
// zeroed, or one that exists but cannot be read. It errs towards hot:
// SQLite also asks that no writer hold the database's RESERVED lock, so
// a live writer's journal counts here (lookAtCopy needs no answer), and
// it reads the first byte only.
func hotJournal(abs string) bool {
	f, err := os.Open(abs + "-journal")
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	defer f.Close()
	var magic [8]byte
	n, err := io.ReadFull(f, magic[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	return n > 0 && magic != [8]byte{}
}

// lookAtCopy reads the layout of the database at abs as a connection that
// may write would find it after rolling back its journal: on a private
// copy of the file and journal, rolled back there, so that neither
// original changes. The copy, in the temporary directory, is as large as
// the database; it is made only for a file with a hot journal.
func lookAtCopy(ctx context.Context, abs string) (layout, error) {
	dir, err := os.MkdirTemp("", "shardflow-sqlite-look-")
	if err != nil {
		return layout{}, err
	}
	defer os.RemoveAll(dir)
	cp := filepath.Join(dir, "look.db")
	for _, suffix := range []string{"", "-journal"} {
		if err := copyFile(ctx, abs+suffix, cp+suffix); err != nil {
			return layout{}, err
		}
	}
	// A URI: a plain path is cut at a '?', which the temporary
	// directory's name may hold.
	return lookAt(ctx, fileURI(cp))
}

// copyFile copies the file at src to a new file at dst, checking ctx
// between chunks.
func copyFile(ctx context.Context, src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := in.Read(buf)
		if _, err := out.Write(buf[:n]); err != nil {
			return err
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// lookAt reads the layout of the database dsn names.
func lookAt(ctx context.Context, dsn string) (layout, error) {
	db, err := openDB(dsn)
	if err != nil {
		return layout{}, err
	}
	defer db.Close()
	l, err := readLayout(ctx, db)
	return l, notDatabase(err)
}

// refused reports whether err is a refusal of the file by readLayout or
// SQLite, rather than a failure to read it.
func refused(err error) bool {
	return errors.Is(err, ErrNotDatabase) || errors.Is(err, ErrNotConsensus) || errors.Is(err, ErrSchemaTooNew)
}
