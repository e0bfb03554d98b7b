package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// schemaVersion is the layout this code writes, recorded in the database's
// PRAGMA user_version:
//
//   - 0 is a new file, or the first layout: consensus as a WITHOUT ROWID
//     table. That layout keeps each version's data inside the primary-key
//     b-tree, so with state versions of hundreds of kilobytes every insert
//     seeks through overflow pages: a compare-and-set of a 300 KB state
//     took 4.8 ms against 1.7 ms for a rowid table.
//   - 1 is consensus as a rowid table whose (key, seqno) primary key is a
//     separate index, so the data sits outside the b-tree that is searched.
//
// Both layouts have the same columns, so code that knows only layout 0 (it
// creates its table IF NOT EXISTS) keeps working on a migrated file.
const schemaVersion = 1

const createConsensus = `CREATE TABLE consensus (
	key   TEXT    NOT NULL,
	seqno INTEGER NOT NULL,
	data  BLOB    NOT NULL,
	PRIMARY KEY (key, seqno)
)`

// ErrSchemaTooNew is returned by Open for a database whose layout was
// written by a newer version of this package.
var ErrSchemaTooNew = errors.New("sqlite: database layout is newer than this code understands")

// migrate brings the database at db to schemaVersion in one IMMEDIATE
// transaction, so that processes opening the same file at once migrate it
// exactly once: the first creates or copies, the others find the version
// already set. It refuses a database this package cannot use (see
// layout.check) as it finds it.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	l, err := readLayout(ctx, tx)
	if err != nil {
		return err
	}
	if l.version == schemaVersion {
		return tx.Commit()
	}
	steps := []string{createConsensus}
	if l.hasTable {
		steps = []string{
			`ALTER TABLE consensus RENAME TO consensus_layout0`,
			createConsensus,
			`INSERT INTO consensus (key, seqno, data) SELECT key, seqno, data FROM consensus_layout0`,
			`DROP TABLE consensus_layout0`,
		}
	}
	steps = append(steps, fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion))
	for _, s := range steps {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("migrate from layout %d: %s: %w", l.version, s, err)
		}
	}
	return tx.Commit()
}

// queryer is what readLayout reads through: a database or a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// layout is what a database holds, as far as this package can tell.
type layout struct {
	version  int  // PRAGMA user_version
	hasTable bool // a table named consensus
	objects  int  // schema objects of any kind
}

// readLayout reads the database's layout, and refuses it if check does.
func readLayout(ctx context.Context, q queryer) (layout, error) {
	var l layout
	if err := q.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&l.version); err != nil {
		return l, fmt.Errorf("read user_version: %w", err)
	}
	var tables int
	if err := q.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'consensus'`).Scan(&tables); err != nil {
		return l, fmt.Errorf("look for the consensus table: %w", err)
	}
	l.hasTable = tables > 0
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&l.objects); err != nil {
		return l, fmt.Errorf("list the schema: %w", err)
	}
	return l, l.check()
}

// check refuses a database this package cannot use: another program's
// (no consensus table, and not new: it holds schema objects or has a
// user_version, which many programs set) with ErrNotConsensus, and a log
// of a layout newer than this code knows with ErrSchemaTooNew. A new,
// empty database passes.
func (l layout) check() error {
	switch {
	case !l.hasTable && (l.objects > 0 || l.version != 0):
		return fmt.Errorf("%w, and it is not new (user_version %d, schema objects %d)", ErrNotConsensus, l.version, l.objects)
	case l.hasTable && l.version > schemaVersion:
		return fmt.Errorf("%w: layout %d, this code knows up to %d", ErrSchemaTooNew, l.version, schemaVersion)
	}
	return nil
}

// openDB opens a database/sql handle on dsn with the pool this package
// uses.
func openDB(dsn string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	return db, nil
}
