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
// already set.
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
	version, hasTable, err := readLayout(ctx, tx)
	if err != nil {
		return err
	}
	if !hasTable {
		// A new file has nothing in it. Another program's database is
		// not made a consensus log by adding a table to it.
		var objects int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&objects); err != nil {
			return fmt.Errorf("list the schema: %w", err)
		}
		if objects > 0 || version != 0 {
			return fmt.Errorf("%w, and it is not new (user_version %d, schema objects %d): it was left as it was", ErrNotConsensus, version, objects)
		}
	}
	if version == schemaVersion {
		return tx.Commit()
	}
	steps := []string{createConsensus}
	if hasTable {
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
			return fmt.Errorf("migrate from layout %d: %s: %w", version, s, err)
		}
	}
	return tx.Commit()
}

// queryer is what readLayout reads through: a database or a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readLayout returns the database's layout version and whether it has a
// consensus table, refusing a layout newer than this code knows.
func readLayout(ctx context.Context, q queryer) (version int, hasTable bool, err error) {
	if err := q.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return 0, false, fmt.Errorf("read user_version: %w", err)
	}
	if version > schemaVersion {
		return 0, false, fmt.Errorf("%w: layout %d, this code knows up to %d", ErrSchemaTooNew, version, schemaVersion)
	}
	var tables int
	if err := q.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'consensus'`).Scan(&tables); err != nil {
		return 0, false, fmt.Errorf("look for the consensus table: %w", err)
	}
	return version, tables > 0, nil
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
