package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// The statements of the hot operations, prepared once per handle: the
// driver does not cache them, and parsing the compare-and-set's INSERT
// with its subquery every time was a fifth of its CPU. database/sql keeps
// each one prepared on every connection that has run it.
const (
	headQuery = `SELECT seqno, data FROM consensus WHERE key = ? ORDER BY seqno DESC LIMIT 1`
	scanQuery = `SELECT seqno, data FROM consensus WHERE key = ? AND seqno >= ? ORDER BY seqno LIMIT ?`
	// casQuery inserts version ?2 of key ?1 only if the key's newest
	// version is ?4 (NULL: it has none).
	casQuery = `INSERT INTO consensus (key, seqno, data)
		SELECT ?1, ?2, ?3
		WHERE (SELECT max(seqno) FROM consensus WHERE key = ?1) IS ?4`
)

// statements are a handle's prepared statements. SQLite prepares them
// again by itself when the schema changes (another process migrating the
// layout), so they outlive a migration.
type statements struct {
	head, scan *sql.Stmt
	cas        *sql.Stmt // nil on a read-only handle
}

// prepareStatements prepares the statements of a handle on db, the
// writing ones too unless readOnly.
func prepareStatements(ctx context.Context, db *sql.DB, readOnly bool) (s statements, err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, s.close())
		}
	}()
	if s.head, err = db.PrepareContext(ctx, headQuery); err != nil {
		return s, err
	}
	if s.scan, err = db.PrepareContext(ctx, scanQuery); err != nil {
		return s, err
	}
	if !readOnly {
		if s.cas, err = db.PrepareContext(ctx, casQuery); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (s *statements) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.head, s.scan, s.cas} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
