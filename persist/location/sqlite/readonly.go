package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

// ErrNotConsensus is returned by a read-only Open of a database that has no
// consensus table: not one this package wrote, or one never opened for
// writing.
var ErrNotConsensus = errors.New("sqlite: no consensus table in the database")

// openReadOnly opens the existing database at abs for reading only.
//
// A WAL database needs its -shm file to be read. While a writer has the
// database open, the -wal and -shm files exist and a read-only connection
// uses them. A database closed cleanly has neither, and a connection that
// cannot create them (the directory is not writable) cannot read it; the
// file is then opened as immutable, which SQLite reads without locks or
// WAL. Immutable is only right while nothing writes, so it is the fallback
// when a plain read-only open fails and there is no -wal file: a process
// that could write here would have left one while it ran.
func openReadOnly(ctx context.Context, abs string, busy time.Duration) (*Consensus, error) {
	if _, err := os.Stat(abs); err != nil {
		return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: read-only open: %w", err))
	}
	db, err := openChecked(ctx, abs, busy, false)
	if err != nil {
		if _, werr := os.Stat(abs + "-wal"); !errors.Is(werr, fs.ErrNotExist) || errors.Is(err, ErrSchemaTooNew) || errors.Is(err, ErrNotConsensus) {
			return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: %s: read-only open: %w", abs, err))
		}
		var ierr error
		if db, ierr = openChecked(ctx, abs, busy, true); ierr != nil {
			return nil, location.Determinate("consensus open", fmt.Errorf("sqlite: %s: read-only open: %w (and as immutable: %w)", abs, err, ierr))
		}
	}
	return newConsensus(ctx, db, abs, true)
}

// openChecked opens abs read-only (immutable if asked) and checks that it
// holds a consensus table of a layout this code reads.
func openChecked(ctx context.Context, abs string, busy time.Duration, immutable bool) (*sql.DB, error) {
	// SQLite takes mode and immutable only from a file: URI; the
	// driver takes its _pragma parameters out before handing it on.
	q := fmt.Sprintf("mode=ro&_pragma=busy_timeout(%d)", busy.Milliseconds())
	if immutable {
		q += "&immutable=1"
	}
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q
	db, err := openDB(dsn)
	if err != nil {
		return nil, err
	}
	if err := checkLayout(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkLayout refuses a database without a consensus table or of a layout
// newer than this code knows. Every layout it knows has the same columns,
// so an older one is read as it is.
func checkLayout(ctx context.Context, db *sql.DB) error {
	_, hasTable, err := readLayout(ctx, db)
	if err == nil && !hasTable {
		err = ErrNotConsensus
	}
	return err
}
