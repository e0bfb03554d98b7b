// Package postgres is a location.Consensus in PostgreSQL, for deployments
// that outgrow one machine, with LISTEN/NOTIFY wake-ups (location.Watcher).
//
// It registers the consensus schemes "postgres" and "postgresql"; the URL is
// handed to pgx as is, so every libpq URL parameter pgx understands works
// (sslmode, connect_timeout, pool_max_conns, ...):
//
//	postgres://user:password@host:5432/dbname?sslmode=disable
//
// The parameter mode=ro (in a URL or a keyword/value string; this package
// takes it out before pgx sends what it does not know to the server) opens
// for reading only: nothing is created, CompareAndSet and Truncate fail
// with location.ErrReadOnly, and the sessions run with
// default_transaction_read_only on. A role that may only read the table
// needs it; a database with no table is ErrNotConsensus. Sessions always
// run at READ COMMITTED, whatever default_transaction_isolation the URL or
// the server sets: the compare-and-set below depends on it.
//
// # Storage
//
// Versions live in one table, shardflow_consensus (shard text, seqno bigint,
// data bytea, primary key (shard, seqno)), created on open if missing
// (which needs CREATE on the schema only then: a role granted SELECT,
// INSERT and DELETE on an existing table can open it for writing).
// A compare-and-set is one implicit transaction sent in a single round trip:
// a transaction-scoped advisory lock on the shard's hash (so two writers of
// one shard cannot both see the same head and insert different seqnos),
// then one conditional INSERT ... SELECT ... WHERE (SELECT max(seqno) ...)
// IS NOT DISTINCT FROM expected ON CONFLICT DO NOTHING, which in the same
// statement calls pg_notify for the inserted row. One row back means it
// committed; the notification is delivered at that commit and only then.
// Truncate is one statement whose head check and delete share a snapshot.
// SeqNos above math.MaxInt64 are refused (location.ErrSeqNoTooLarge).
//
// # Errors
//
// An error the server reported (the transaction was rolled back) or one pgx
// marks safe to retry (nothing was sent) is determinate; any other failure
// of a write, such as a connection lost after the statement was sent or a
// context that ended mid-flight, is indeterminate. Read failures are
// determinate. A write the server refuses because the role may not write
// or the session is read-only wraps location.ErrReadOnly. Messages name
// the database without its password.
//
// # Watch
//
// The first Watch starts one listening connection (outside the pool) that
// runs LISTEN shardflow_consensus and routes each notification, whose
// payload is the shard key, to that key's watchers; notifications for a key
// coalesce into one pending value per watcher. If the listening connection
// is lost it reconnects with backoff and then wakes every watcher, since
// notifications may have been missed meanwhile. If the server refuses the
// first LISTEN (a hot standby does, during recovery, which mode=ro may
// point at), it stops, and Watch fails at once: readers then poll instead
// of waiting on a watch that cannot start. Close stops it.
package postgres
