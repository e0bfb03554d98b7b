package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shardflow/shardflow/persist/location"
)

// Head implements location.Consensus.
func (c *Consensus) Head(ctx context.Context, key string) (location.VersionedData, bool, error) {
	if err := location.CheckKey("consensus head", key); err != nil {
		return location.VersionedData{}, false, err
	}
	const op = "consensus head"
	if err := c.begin(ctx, op); err != nil {
		return location.VersionedData{}, false, err
	}
	var (
		seqno int64
		data  []byte
	)
	err := c.pool.QueryRow(ctx,
		`SELECT seqno, data FROM shardflow_consensus WHERE shard = $1 ORDER BY seqno DESC LIMIT 1`, key).Scan(&seqno, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return location.VersionedData{}, false, nil
	}
	if err != nil {
		return location.VersionedData{}, false, location.Determinate(op, c.wrap("head", err))
	}
	return location.VersionedData{SeqNo: location.SeqNo(seqno), Data: nonNil(data)}, true, nil
}

const casSQL = `WITH ins AS (
	INSERT INTO shardflow_consensus (shard, seqno, data)
	SELECT $1, $2, $3
	WHERE (SELECT max(seqno) FROM shardflow_consensus WHERE shard = $1) IS NOT DISTINCT FROM $4::bigint
	ON CONFLICT DO NOTHING
	RETURNING shard
)
SELECT pg_notify('` + channel + `', shard) FROM ins`

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
	var want *int64 // nil: the key has no versions
	if expected != nil {
		e, ok := location.SQLSeqNo(*expected)
		if !ok {
			return location.ExpectationMismatch, nil // cannot be the head
		}
		want = &e
	}
	// One round trip, one implicit transaction: the advisory lock is held
	// until it commits, so the INSERT's snapshot sees every earlier commit
	// for this shard.
	var batch pgx.Batch
	batch.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
	batch.Queue(casSQL, key, nextSeq, nonNil(next.Data), want)
	br := c.pool.SendBatch(ctx, &batch)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return 0, classifyWrite(op, c.wrap("lock", err))
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return 0, classifyWrite(op, c.wrap("insert", err))
	}
	inserted := 0
	for rows.Next() {
		inserted++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		br.Close()
		return 0, classifyWrite(op, c.wrap("insert", err))
	}
	if err := br.Close(); err != nil {
		return 0, classifyWrite(op, c.wrap("commit", err))
	}
	switch inserted {
	case 0:
		return location.ExpectationMismatch, nil
	case 1:
		return location.Committed, nil
	}
	panic(fmt.Sprintf("postgres: compare-and-set inserted %d rows", inserted))
}

// Scan implements location.Consensus.
func (c *Consensus) Scan(ctx context.Context, key string, from location.SeqNo, limit int) ([]location.VersionedData, error) {
	if err := location.CheckKey("consensus scan", key); err != nil {
		return nil, err
	}
	const op = "consensus scan"
	if err := c.begin(ctx, op); err != nil {
		return nil, err
	}
	fromSeq, ok := location.SQLSeqNo(from)
	if limit <= 0 || !ok {
		return nil, nil
	}
	rows, err := c.pool.Query(ctx,
		`SELECT seqno, data FROM shardflow_consensus WHERE shard = $1 AND seqno >= $2 ORDER BY seqno LIMIT $3`,
		key, fromSeq, limit)
	if err != nil {
		return nil, location.Determinate(op, c.wrap("scan", err))
	}
	defer rows.Close()
	var out []location.VersionedData
	for rows.Next() {
		var (
			seqno int64
			data  []byte
		)
		if err := rows.Scan(&seqno, &data); err != nil {
			return nil, location.Determinate(op, c.wrap("scan", err))
		}
		out = append(out, location.VersionedData{SeqNo: location.SeqNo(seqno), Data: nonNil(data)})
	}
	if err := rows.Err(); err != nil {
		return nil, location.Determinate(op, c.wrap("scan", err))
	}
	return out, nil
}

// truncateSQL checks the head and deletes in one snapshot. The head only
// grows, so a seqno at or below the head then is still so when the delete
// applies.
const truncateSQL = `WITH h AS (
	SELECT max(seqno) AS head FROM shardflow_consensus WHERE shard = $1
), d AS (
	DELETE FROM shardflow_consensus
	WHERE shard = $1 AND seqno < $2 AND $2 <= (SELECT head FROM h)
	RETURNING 1
)
SELECT (SELECT head FROM h), (SELECT count(*) FROM d)`

// Truncate implements location.Consensus.
func (c *Consensus) Truncate(ctx context.Context, key string, seqno location.SeqNo) (int, error) {
	if err := location.CheckKey("consensus truncate", key); err != nil {
		return 0, err
	}
	const op = "consensus truncate"
	if err := c.beginWrite(ctx, op); err != nil {
		return 0, err
	}
	s, ok := location.SQLSeqNo(seqno)
	if !ok {
		return 0, location.Determinate(op, fmt.Errorf("%w: seqno %d beyond any storable head", location.ErrTruncateBeyondHead, seqno))
	}
	var (
		head    *int64
		deleted int64
	)
	if err := c.pool.QueryRow(ctx, truncateSQL, key, s).Scan(&head, &deleted); err != nil {
		return 0, classifyWrite(op, c.wrap("truncate", err))
	}
	if head == nil {
		return 0, location.Determinate(op, fmt.Errorf("%w: key %q has no versions", location.ErrTruncateBeyondHead, key))
	}
	if s > *head {
		return 0, location.Determinate(op, fmt.Errorf("%w: seqno %d, head %d", location.ErrTruncateBeyondHead, seqno, *head))
	}
	return int(deleted), nil
}

// ListKeys implements location.Consensus.
func (c *Consensus) ListKeys(ctx context.Context) ([]string, error) {
	const op = "consensus list keys"
	if err := c.begin(ctx, op); err != nil {
		return nil, err
	}
	rows, err := c.pool.Query(ctx, `SELECT DISTINCT shard FROM shardflow_consensus ORDER BY shard`)
	if err != nil {
		return nil, location.Determinate(op, c.wrap("list keys", err))
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, location.Determinate(op, c.wrap("list keys", err))
	}
	return keys, nil
}
