package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/shardflow/shardflow/persist/location"
)

// Head implements location.Consensus.
func (c *Consensus) Head(ctx context.Context, key string) (location.VersionedData, bool, error) {
	if err := location.CheckKey("consensus head", key); err != nil {
		return location.VersionedData{}, false, err
	}
	const op = "consensus head"
	var (
		seqno int64
		data  []byte
		found bool
	)
	err := c.read(ctx, op, func() error {
		err := c.stmts.head.QueryRowContext(ctx, key).Scan(&seqno, &data)
		found = err == nil
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return location.Determinate(op, c.wrapRead("head", err))
		}
		return nil
	})
	if err != nil || !found {
		return location.VersionedData{}, false, err
	}
	return location.VersionedData{SeqNo: location.SeqNo(seqno), Data: nonNil(data)}, true, nil
}

// CompareAndSet implements location.Consensus.
func (c *Consensus) CompareAndSet(ctx context.Context, key string, expected *location.SeqNo, next location.VersionedData) (location.CaSResult, error) {
	if err := location.CheckKey("consensus compare-and-set", key); err != nil {
		return 0, err
	}
	const op = "consensus compare-and-set"
	if err := c.beginWrite(ctx, op); err != nil {
		return 0, err
	}
	if err := location.CheckNextSeqNo(op, expected, next.SeqNo); err != nil {
		return 0, err
	}
	nextSeq, ok := location.SQLSeqNo(next.SeqNo)
	if !ok {
		return 0, location.Determinate(op, fmt.Errorf("%w: %d", location.ErrSeqNoTooLarge, next.SeqNo))
	}
	var want any // NULL: the key has no versions
	if expected != nil {
		// An expected seqno beyond int64 cannot be the head: it mismatches.
		e, ok := location.SQLSeqNo(*expected)
		if !ok {
			return location.ExpectationMismatch, nil
		}
		want = e
	}

	unlock, err := c.lockWriter(ctx, op)
	if err != nil {
		return 0, err
	}
	defer unlock()
	tx, err := c.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		return 0, location.Determinate(op, c.wrap("begin", err))
	}
	res, err := tx.StmtContext(ctx, c.stmts.cas).ExecContext(ctx, key, nextSeq, nonNil(next.Data), want)
	if err != nil {
		tx.Rollback()
		return 0, location.Determinate(op, c.wrap("insert", err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		tx.Rollback()
		return 0, location.Determinate(op, c.wrap("insert", err))
	}
	if n == 0 {
		if err := tx.Rollback(); err != nil {
			return 0, location.Determinate(op, c.wrap("rollback", err))
		}
		return location.ExpectationMismatch, nil
	}
	if err := c.commit(ctx, tx, op); err != nil {
		return 0, err
	}
	c.poke()
	return location.Committed, nil
}

// testHookBeforeCommit, if set, runs just before a write transaction
// commits.
var testHookBeforeCommit func()

// commit commits the write transaction tx, begun under ctx. A context
// that has ended by now abandons it, determinately: the rollback is
// certain. Once COMMIT may be under way, a failure is indeterminate, the
// context's error too (the driver, interrupted in COMMIT, returns the
// context's error in place of the step's, and a commit whose WAL frame
// was written may survive), except sql.ErrTxDone: database/sql rolled the
// transaction back, for a context that ended just now, before the driver
// saw the COMMIT.
func (c *Consensus) commit(ctx context.Context, tx *sql.Tx, op string) error {
	if testHookBeforeCommit != nil {
		testHookBeforeCommit()
	}
	if err := ctx.Err(); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return location.Determinate(op, c.wrap("rollback", rerr))
		}
		return location.Determinate(op, c.wrapCommit(err))
	}
	err := tx.Commit()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrTxDone):
		return location.Determinate(op, c.wrapCommit(err))
	}
	return location.Indeterminate(op, c.wrapCommit(err))
}

// Scan implements location.Consensus.
func (c *Consensus) Scan(ctx context.Context, key string, from location.SeqNo, limit int) ([]location.VersionedData, error) {
	if err := location.CheckKey("consensus scan", key); err != nil {
		return nil, err
	}
	const op = "consensus scan"
	fromSeq, ok := location.SQLSeqNo(from)
	var out []location.VersionedData
	err := c.read(ctx, op, func() error {
		if limit <= 0 || !ok {
			return nil // nothing is stored beyond int64
		}
		rows, err := c.stmts.scan.QueryContext(ctx, key, fromSeq, limit)
		if err != nil {
			return location.Determinate(op, c.wrapRead("scan", err))
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			var (
				seqno int64
				data  []byte
			)
			if err := rows.Scan(&seqno, &data); err != nil {
				return location.Determinate(op, c.wrapRead("scan", err))
			}
			out = append(out, location.VersionedData{SeqNo: location.SeqNo(seqno), Data: nonNil(data)})
		}
		if err := rows.Err(); err != nil {
			return location.Determinate(op, c.wrapRead("scan", err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Truncate implements location.Consensus.
func (c *Consensus) Truncate(ctx context.Context, key string, seqno location.SeqNo) (int, error) {
	if err := location.CheckKey("consensus truncate", key); err != nil {
		return 0, err
	}
	const op = "consensus truncate"
	if err := c.beginWrite(ctx, op); err != nil {
		return 0, err
	}
	unlock, err := c.lockWriter(ctx, op)
	if err != nil {
		return 0, err
	}
	defer unlock()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, location.Determinate(op, c.wrap("begin", err))
	}
	defer tx.Rollback() // a no-op after Commit
	var head sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(seqno) FROM consensus WHERE key = ?`, key).Scan(&head); err != nil {
		return 0, location.Determinate(op, c.wrap("truncate", err))
	}
	if !head.Valid {
		return 0, location.Determinate(op, fmt.Errorf("%w: key %q has no versions", location.ErrTruncateBeyondHead, key))
	}
	if s, ok := location.SQLSeqNo(seqno); !ok || s > head.Int64 {
		return 0, location.Determinate(op, fmt.Errorf("%w: seqno %d, head %d", location.ErrTruncateBeyondHead, seqno, head.Int64))
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM consensus WHERE key = ? AND seqno < ?`, key, int64(seqno))
	if err != nil {
		return 0, location.Determinate(op, c.wrap("truncate", err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, location.Determinate(op, c.wrap("truncate", err))
	}
	if err := c.commit(ctx, tx, op); err != nil {
		return 0, err
	}
	return int(n), nil
}

// ListKeys implements location.Consensus.
func (c *Consensus) ListKeys(ctx context.Context) ([]string, error) {
	const op = "consensus list keys"
	var keys []string
	err := c.read(ctx, op, func() error {
		rows, err := c.db.QueryContext(ctx, `SELECT DISTINCT key FROM consensus ORDER BY key`)
		if err != nil {
			return location.Determinate(op, c.wrapRead("list keys", err))
		}
		defer rows.Close()
		keys = keys[:0]
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return location.Determinate(op, c.wrapRead("list keys", err))
			}
			keys = append(keys, k)
		}
		if err := rows.Err(); err != nil {
			return location.Determinate(op, c.wrapRead("list keys", err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}
