package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shardflow/shardflow/persist/location"
)

func init() {
	open := func(ctx context.Context, u *url.URL) (location.Consensus, error) {
		c, err := Open(ctx, u.String())
		if err != nil {
			return nil, err // not a nil *Consensus in a non-nil Consensus
		}
		return c, nil
	}
	// A file the settings name (sslrootcert, sslkey, a service file) that
	// cannot be read is no fault of the URL's form: Open reports it.
	check := func(u *url.URL) error {
		var pathErr *fs.PathError
		if _, _, _, err := parseConfig(u.String()); err != nil && !errors.As(err, &pathErr) {
			return err
		}
		return nil
	}
	for _, scheme := range []string{"postgres", "postgresql"} {
		location.RegisterURLCheck("consensus", scheme, check)
		location.RegisterConsensus(scheme, open)
	}
}

// channel is the LISTEN/NOTIFY channel; the payload is the shard key.
const channel = "shardflow_consensus"

const schema = `CREATE TABLE IF NOT EXISTS shardflow_consensus (
	shard text   NOT NULL,
	seqno bigint NOT NULL,
	data  bytea  NOT NULL,
	PRIMARY KEY (shard, seqno)
)`

// schemaLock is the advisory lock key that serializes concurrent schema
// creation (CREATE TABLE IF NOT EXISTS races on the catalog otherwise).
const schemaLock = 0x7368617264666c6f // "shardflo"

// ErrNotConsensus is returned by a read-only Open (mode=ro) of a database
// that has no consensus table: nothing was ever written there, and a
// read-only open creates nothing.
var ErrNotConsensus = errors.New("postgres: no shardflow_consensus table in the database")

// Consensus is a location.Consensus in PostgreSQL. It is safe for concurrent
// use.
type Consensus struct {
	pool     *pgxpool.Pool
	name     string // the database, without its password, for messages
	readOnly bool   // mode=ro: writes are refused
	mu       struct {
		sync.Mutex
		closed   bool
		listener *listener // started by the first Watch
	}
}

var (
	_ location.Consensus = (*Consensus)(nil)
	_ location.Watcher   = (*Consensus)(nil)
)

// Open connects to the database at rawURL (a pgx connection string) and
// creates the table if it is missing. With the URL parameter mode=ro it
// opens for reading only: it creates nothing (a database with no table is
// ErrNotConsensus), CompareAndSet and Truncate fail with
// location.ErrReadOnly, and the sessions run with
// default_transaction_read_only on, so the server refuses writes as well.
// A role that may only read the table needs it.
func Open(ctx context.Context, rawURL string) (*Consensus, error) {
	cfg, name, readOnly, err := parseConfig(rawURL)
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &pathErr):
		// A file the settings name (sslrootcert, sslkey, a service
		// file), from the URL or from PG* variables: no URL's fault.
		return nil, err
	case err != nil:
		return nil, location.BadURL(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", name, err)
	}
	c := &Consensus{pool: pool, name: name, readOnly: readOnly}
	// The table is looked for first: creating it, even IF NOT EXISTS, needs
	// CREATE on the schema, which a role that may only read and write the
	// table lacks (PostgreSQL 15 grants it on public to the owner alone).
	err = c.checkSchema(ctx)
	if errors.Is(err, ErrNotConsensus) && !readOnly {
		if err = c.createSchema(ctx); err != nil {
			err = fmt.Errorf("create schema: %w", err)
		}
	}
	if err != nil {
		pool.Close()
		return nil, location.Determinate("consensus open", fmt.Errorf("postgres: %s: %w", name, err))
	}
	return c, nil
}

// parseConfig parses rawURL (a URL or a keyword/value string) into the
// pool's configuration, with this package's defaults and mode taken out;
// name describes the database for messages, without the password, as the
// errors do.
func parseConfig(rawURL string) (cfg *pgxpool.Config, name string, readOnly bool, err error) {
	cfg, err = pgxpool.ParseConfig(rawURL) // its errors hide the password
	if err != nil {
		return nil, "", false, fmt.Errorf("postgres: parse url: %w", err)
	}
	name = describe(cfg.ConnConfig)
	readOnly, err = takeMode(cfg.ConnConfig.RuntimeParams)
	if err != nil {
		return nil, "", false, fmt.Errorf("postgres: %s: %w", name, err)
	}
	if readOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	// A compare-and-set's INSERT must take its snapshot after the advisory
	// lock it waited for, which READ COMMITTED does and REPEATABLE READ or
	// SERIALIZABLE (a server's, database's, role's or URL's default) do
	// not: they would check the head as it was before the lock, and commit
	// over a newer one. A startup parameter overrides every such default.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if cfg.MaxConnIdleTime == 0 {
		cfg.MaxConnIdleTime = 5 * time.Minute
	}
	return cfg, name, readOnly, nil
}

// takeMode takes the parameter mode out of the settings pgx would send the
// server (it keeps every parameter it does not know, from a URL or a
// keyword/value string alike) and reports whether it asked for reading
// only: mode=ro; mode=rw is the default.
func takeMode(params map[string]string) (readOnly bool, err error) {
	mode, ok := params["mode"]
	if !ok {
		return false, nil
	}
	delete(params, "mode")
	switch mode {
	case "ro":
		return true, nil
	case "rw":
		return false, nil
	}
	return false, fmt.Errorf("mode=%s: want ro or rw", mode)
}

// checkSchema reports ErrNotConsensus if the table is missing.
func (c *Consensus) checkSchema(ctx context.Context) error {
	var exists bool
	if err := c.pool.QueryRow(ctx, `SELECT to_regclass('shardflow_consensus') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if !exists {
		return ErrNotConsensus
	}
	return nil
}

func (c *Consensus) createSchema(ctx context.Context) error {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, schema); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Close implements location.Consensus: it stops the listener, if any, and
// closes the pool.
func (c *Consensus) Close() error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.closed = true
	l := c.mu.listener
	c.mu.listener = nil
	c.mu.Unlock()
	if l != nil {
		l.stop()
	}
	c.pool.Close()
	return nil
}

func (c *Consensus) begin(ctx context.Context, op string) error {
	c.mu.Lock()
	closed := c.mu.closed
	c.mu.Unlock()
	if closed {
		return location.Determinate(op, location.ErrClosed)
	}
	return location.Determinate(op, ctx.Err())
}

// beginWrite is begin for an operation that writes.
func (c *Consensus) beginWrite(ctx context.Context, op string) error {
	if err := c.begin(ctx, op); err != nil {
		return err
	}
	if c.readOnly {
		return location.Determinate(op, fmt.Errorf("postgres: %s: %w", c.name, location.ErrReadOnly))
	}
	return nil
}

func (c *Consensus) wrap(what string, err error) error {
	return fmt.Errorf("postgres: %s: %s: %w", c.name, what, err)
}

// classifyWrite says whether a failed write may have happened: not if the
// server reported an error (its transaction was rolled back) or pgx knows
// nothing reached the server. A write the server refused because the role
// may not write (insufficient_privilege) or the session is read-only
// (read_only_sql_transaction) wraps location.ErrReadOnly.
func classifyWrite(op string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "25006"):
		return location.Determinate(op, fmt.Errorf("%w: %w", err, location.ErrReadOnly))
	case errors.As(err, &pgErr) || pgconn.SafeToRetry(err):
		return location.Determinate(op, err)
	}
	return location.Indeterminate(op, err)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// describe names the database of cfg for messages, without its password
// (which a URL may carry in its user part or as a parameter).
func describe(cfg *pgx.ConnConfig) string {
	return (&url.URL{Scheme: "postgres", User: url.User(cfg.User), Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), Path: "/" + cfg.Database}).String()
}
