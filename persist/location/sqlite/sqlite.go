package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shardflow/shardflow/persist/location"
	sqlite3 "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

func init() {
	location.RegisterURLCheck("consensus", "sqlite", func(u *url.URL) error { _, _, err := parseChecked(u); return err })
	location.RegisterConsensus("sqlite", func(ctx context.Context, u *url.URL) (location.Consensus, error) {
		path, opts, err := parseChecked(u)
		if err != nil {
			return nil, location.BadURL(err)
		}
		c, err := Open(ctx, path, opts)
		if err != nil {
			return nil, err // not a nil *Consensus in a non-nil Consensus
		}
		return c, nil
	})
}

// Options tune Open. The zero value is the default.
type Options struct {
	// BusyTimeout bounds how long an operation waits for a lock another
	// connection holds (default 10s).
	BusyTimeout time.Duration
	// ReadOnly opens an existing database for reading only: nothing is
	// created, migrated or written, writes fail with location.ErrReadOnly,
	// and the database may sit where this process cannot write (see the
	// package documentation).
	ReadOnly bool
	// Logger receives what fails without failing an operation: a commit
	// whose notification to other processes' watchers could not be
	// written (default slog.Default()).
	Logger *slog.Logger
}

const defaultBusyTimeout = 10 * time.Second

// ParseURL returns the file path and options of a sqlite consensus URL (see
// the package documentation for its forms).
func ParseURL(u *url.URL) (path string, opts Options, err error) {
	if u.Scheme != "sqlite" {
		return "", opts, fmt.Errorf("sqlite: url %q: scheme is not sqlite", u.Redacted())
	}
	path, err = location.LocalPath(u)
	if err != nil {
		return "", opts, fmt.Errorf("sqlite: %w", err)
	}
	if path == "" {
		return "", opts, fmt.Errorf("sqlite: url %q: no file path", u.Redacted())
	}
	if u.Fragment != "" {
		// A '#' in the path would silently cut it short.
		return "", opts, fmt.Errorf("sqlite: url %q: fragment not allowed", u.Redacted())
	}
	q, err := location.Params(u, "busy_timeout", "mode")
	if err != nil {
		return "", opts, fmt.Errorf("sqlite: url %q: %w", u.Redacted(), err)
	}
	switch m := q.Get("mode"); m {
	case "":
	case "ro":
		opts.ReadOnly = true
	default:
		return "", opts, fmt.Errorf("sqlite: url %q: bad mode %q (the only mode is ro)", u.Redacted(), m)
	}
	if v := q.Get("busy_timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return "", opts, fmt.Errorf("sqlite: url %q: bad busy_timeout %q", u.Redacted(), v)
		}
		opts.BusyTimeout = d
	}
	return path, opts, nil
}

// Consensus is a location.Consensus in a SQLite file. It is safe for
// concurrent use.
type Consensus struct {
	db    *sql.DB
	stmts statements
	path  string
	// writer is a one-slot semaphore held by each write transaction of
	// this handle, so they queue here, where a context can abandon the wait,
	// rather than in SQLite's busy handler.
	writer chan struct{}
	// readOnly is Options.ReadOnly: writes are refused.
	readOnly bool
	// immutable is set when the database was opened as immutable (a
	// read-only fallback): reads check the file has not been written since.
	// A read-only handle opens the database again when a writer changed it
	// under a read (see read): swap guards db, stmts, immutable and gen,
	// which counts those reopenings; busy is the busy timeout to open
	// with. swap is taken before mu.
	immutable *fileStamp
	swap      sync.RWMutex
	gen       uint64
	busy      time.Duration
	notify    notifier
	mu        struct {
		sync.Mutex
		closed bool
	}
}

var _ location.Consensus = (*Consensus)(nil)

// Open opens (creating if needed) the consensus database at path.
func Open(ctx context.Context, path string, opts Options) (*Consensus, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: path %q: %w", path, err)
	}
	busy := opts.BusyTimeout
	if busy == 0 {
		busy = defaultBusyTimeout
	}
	if opts.ReadOnly {
		return openReadOnly(ctx, abs, busy)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := refuseForeign(ctx, abs, busy); err != nil {
		return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: %s: %w; it was left as it was", abs, err))
	}
	// Every connection waits out others' locks and syncs each commit. The
	// switch to WAL, which is kept in the file, is made once the file is
	// known to be a consensus log (see openMigrated).
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=synchronous(FULL)&_txlock=immediate",
		abs, busy.Milliseconds())
	db, err := openMigrated(ctx, dsn, busy)
	if err != nil {
		err = withOSCause(err, abs)
		if isReadOnly(err) {
			return nil, location.Determinate("consensus open", fmt.Errorf(
				"sqlite: %s: this process cannot write the database or its directory (mode=ro opens it for reading): %w", abs, err))
		}
		return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: %s: open: %w", abs, notDatabase(err)))
	}
	c, err := newConsensus(ctx, db, abs, false, busy)
	if err != nil {
		return nil, err
	}
	c.notify.logger = logger
	return c, nil
}

// openMigrated opens dsn, migrates its layout and puts the database in
// WAL mode. Only a database found to be new or a consensus log is
// switched: another program's file is refused as it was. The switch is
// kept in the file, so the pool's later connections find WAL without
// asking for it (asking takes a lock).
//
// A first connection that finds another setting the file up or closing it
// (switching it to WAL, checkpointing and removing the WAL) can get
// SQLITE_BUSY at once, without SQLite calling the busy handler: with four
// handles opening a new file, writing and closing it at once, about one
// round in twenty failed so. Such an open is tried again after a pause,
// until busy has passed.
func openMigrated(ctx context.Context, dsn string, busy time.Duration) (*sql.DB, error) {
	deadline := time.Now().Add(busy)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		db, err := openDB(dsn)
		if err != nil {
			return nil, err
		}
		err = migrate(ctx, db)
		if err == nil {
			err = useWAL(ctx, db)
		}
		if err == nil {
			return db, nil
		}
		db.Close()
		if !IsBusy(err) || time.Now().Add(pause).After(deadline) {
			return nil, err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		}
	}
}

// useWAL puts the database in WAL mode (a no-op when it is already), in
// which readers and a writer do not block each other. A file system that
// keeps it from WAL is refused rather than used in another mode: a
// read-only open reasons from the -wal file a writer leaves.
func useWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return fmt.Errorf("switch to WAL: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("switch to WAL: the journal mode stayed %q", mode)
	}
	return nil
}

// newConsensus is the handle on db, the database at abs, once its layout
// is checked; busy is the busy timeout it was opened with.
func newConsensus(ctx context.Context, db *sql.DB, abs string, readOnly bool, busy time.Duration) (*Consensus, error) {
	stmts, err := prepareStatements(ctx, db, readOnly)
	if err != nil {
		db.Close()
		return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: %s: prepare: %w", abs, err))
	}
	return &Consensus{db: db, stmts: stmts, path: abs, writer: make(chan struct{}, 1), readOnly: readOnly, busy: busy}, nil
}

// parseChecked is ParseURL with the path checked as Open checks it.
func parseChecked(u *url.URL) (string, Options, error) {
	path, opts, err := ParseURL(u)
	if err == nil {
		err = checkPath(path)
	}
	return path, opts, err
}

// checkPath refuses a path the driver would read as a URI or cut short.
func checkPath(path string) error {
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("sqlite: path %q: must not contain ? or # or start with \"file:\"", path)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (c *Consensus) Path() string { return c.path }

// Close implements location.Consensus.
func (c *Consensus) Close() error {
	// swap before mu, as read and reopen take them: Close waits for the
	// reads in progress.
	c.swap.Lock()
	defer c.swap.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return nil
	}
	c.mu.closed = true
	nerr, serr := c.closeNotify(), c.stmts.close()
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", c.path, err)
	}
	if nerr != nil {
		return fmt.Errorf("sqlite: close %s: notifications: %w", c.path, nerr)
	}
	if serr != nil {
		return fmt.Errorf("sqlite: close %s: statements: %w", c.path, serr)
	}
	return nil
}

// begin checks the handle is open and the context live.
func (c *Consensus) begin(ctx context.Context, op string) error {
	c.mu.Lock()
	closed := c.mu.closed
	c.mu.Unlock()
	if closed {
		return location.Determinate(op, location.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return location.Determinate(op, err)
	}
	return nil
}

// beginWrite is begin for an operation that writes.
func (c *Consensus) beginWrite(ctx context.Context, op string) error {
	if err := c.begin(ctx, op); err != nil {
		return err
	}
	if c.readOnly {
		return location.Determinate(op, fmt.Errorf("sqlite: %s: %w", c.path, location.ErrReadOnly))
	}
	return nil
}

// reopens bounds how many times one read of a read-only handle opens the
// database again (see read).
const reopens = 8

// read runs fn, a read of the database, once begin allows it.
//
// A read-only handle can find the database changed under it by a process
// that writes it, and then opens it again and reads anew, up to reopens
// times, pausing a little more each time: like any read, it then sees the
// database as it is now. (A read-only process following a shard would
// otherwise fail at another's first write.) That is when a handle opened
// as immutable finds the file written (before or after fn: what fn read
// may be torn), and when a handle reading through a writer's WAL is
// refused while that writer opens or closes the database
// (SQLITE_READONLY_RECOVERY and kin: it cannot write the -shm file to
// recover the WAL itself).
func (c *Consensus) read(ctx context.Context, op string, fn func() error) error {
	pause := time.Millisecond
	var reopenErr error // the last reopening's failure, if it failed
	for try := 0; ; try++ {
		c.swap.RLock()
		gen := c.gen
		err := c.begin(ctx, op)
		if err == nil {
			err = c.checkUnchanged(op)
		}
		if err == nil {
			err = fn()
			if cerr := c.checkUnchanged(op); cerr != nil {
				err = cerr
			}
		}
		c.swap.RUnlock()
		switch {
		case !c.readOnly || !changedUnder(err):
			return err
		case try == reopens:
			return errors.Join(err, reopenErr)
		case try > 0:
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return errors.Join(err, location.Determinate(op, ctx.Err()))
			}
			pause = min(2*pause, 50*time.Millisecond)
		}
		reopenErr = c.reopen(ctx, op, gen)
	}
}

// changedUnder reports whether err says a writer changed the database
// under a read-only reader, which opening it again gets past.
func changedUnder(err error) bool {
	if errors.Is(err, ErrChangedWhileImmutable) {
		return true
	}
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlitelib.SQLITE_READONLY_RECOVERY, sqlitelib.SQLITE_READONLY_CANTINIT,
		sqlitelib.SQLITE_BUSY_RECOVERY, sqlitelib.SQLITE_BUSY_SNAPSHOT:
		return true
	}
	return false
}

// reopen replaces the database of a read-only handle, unless another read
// has done so since generation gen.
func (c *Consensus) reopen(ctx context.Context, op string, gen uint64) error {
	c.swap.Lock()
	defer c.swap.Unlock()
	if c.gen != gen {
		return nil
	}
	if err := c.begin(ctx, op); err != nil {
		return err // closed, or ctx done
	}
	fresh, err := openReadOnly(ctx, c.path, c.busy)
	if err != nil {
		return location.Determinate(op, fmt.Errorf("sqlite: %s: opening again after a write: %w", c.path, err))
	}
	// Closing what a read-only handle opened loses nothing, whatever it
	// returns: the read goes on with the fresh one.
	_ = errors.Join(c.stmts.close(), c.db.Close())
	c.db, c.stmts, c.immutable = fresh.db, fresh.stmts, fresh.immutable
	c.gen++
	return nil
}

// lockWriter takes this handle's writer slot, or gives up when ctx ends.
func (c *Consensus) lockWriter(ctx context.Context, op string) (unlock func(), err error) {
	select {
	case c.writer <- struct{}{}:
		return func() { <-c.writer }, nil
	case <-ctx.Done():
		return nil, location.Determinate(op, ctx.Err())
	}
}

// wrap prefixes a driver error with the database it came from. SQLite's
// SQLITE_READONLY, a write this process may not make (a database opened
// for writing that another user owns, say: SQLite then opens it read-only
// without a word), also matches location.ErrReadOnly: nothing changed.
// A failed commit, which may have changed something, goes through
// wrapCommit instead.
func (c *Consensus) wrap(what string, err error) error {
	if isReadOnly(err) {
		err = readOnlyError{err}
	}
	return c.wrapRead(what, err)
}

// wrapRead is wrap for a read, which writes nothing: SQLITE_READONLY there
// (a read-only reader refused the WAL's recovery) is no ErrReadOnly.
func (c *Consensus) wrapRead(what string, err error) error {
	return fmt.Errorf("sqlite: %s: %s: %w", c.path, what, err)
}

// wrapCommit is wrap for a failed commit: never ErrReadOnly.
func (c *Consensus) wrapCommit(err error) error { return c.wrapRead("commit", err) }

// readOnlyError is SQLITE_READONLY before anything was written.
type readOnlyError struct{ err error }

func (e readOnlyError) Error() string {
	return "this process may not write the database or its directory: " + e.err.Error()
}
func (e readOnlyError) Unwrap() error        { return e.err }
func (e readOnlyError) Is(target error) bool { return target == location.ErrReadOnly }

// IsBusy reports whether err is SQLite's SQLITE_BUSY (in any extended form):
// the lock another connection holds was not released within the busy
// timeout.
func IsBusy(err error) bool {
	var se *sqlite3.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlitelib.SQLITE_BUSY
}

// withOSCause adds to SQLite's SQLITE_CANTOPEN ("unable to open database
// file") why the file system refuses the existing database at abs, if it
// does: a file this user may not read says "permission denied".
func withOSCause(err error, abs string) error {
	var se *sqlite3.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqlitelib.SQLITE_CANTOPEN {
		return err
	}
	if _, serr := os.Stat(abs); serr != nil {
		return err
	}
	f, oerr := os.OpenFile(abs, os.O_RDWR, 0)
	if oerr != nil {
		return fmt.Errorf("%w (%v)", err, oerr)
	}
	f.Close()
	return err
}

// ErrNotDatabase is returned by Open for a file that is not an SQLite
// database, or whose header is damaged. The file is left as it was.
var ErrNotDatabase = errors.New("sqlite: not an SQLite database")

// notDatabase wraps SQLite's SQLITE_NOTADB ("file is not a database") as
// ErrNotDatabase, and returns any other err as it is.
func notDatabase(err error) error {
	var se *sqlite3.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqlitelib.SQLITE_NOTADB {
		return err
	}
	return fmt.Errorf("%w (or its header is damaged): %w", ErrNotDatabase, err)
}

// isReadOnly reports whether err is SQLite's SQLITE_READONLY, in any
// extended form.
func isReadOnly(err error) bool {
	var se *sqlite3.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlitelib.SQLITE_READONLY
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
