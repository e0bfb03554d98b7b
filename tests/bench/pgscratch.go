package bench

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// scratchSchema makes a schema of its own in the PostgreSQL database
// rawURL names, for P5's shards, and returns rawURL with it as the search
// path, and drop, which removes the schema and all it holds: so the bench
// leaves nothing in the database. If the schema cannot be made (the role
// may not create one), it returns rawURL as it is, a drop that does
// nothing, and why, for the row's note: the shards then stay.
func scratchSchema(ctx context.Context, rawURL string) (withSchema string, drop func() error, why error) {
	nothing := func() error { return nil }
	schema := fmt.Sprintf("shardflow_bench_%d", time.Now().UnixNano())
	withSchema, err := withSearchPath(rawURL, schema)
	if err != nil {
		return rawURL, nothing, err
	}
	conn, err := connect(ctx, rawURL)
	if err != nil {
		return rawURL, nothing, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return rawURL, nothing, err
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		conn, err := connect(ctx, rawURL)
		if err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		return nil
	}
	return withSchema, drop, nil
}

// checkPostgres connects to the database rawURL names and closes the
// connection: so that P5, which may come minutes into a run, does not find
// it unreachable only then.
func checkPostgres(ctx context.Context, rawURL string) error {
	conn, err := connect(ctx, rawURL)
	if err != nil {
		return fmt.Errorf("bench: cannot reach the PostgreSQL of PostgresURL (--postgres): %w", err)
	}
	return conn.Close(ctx)
}

// withSearchPath sets search_path in a URL or a keyword/value string.
func withSearchPath(rawURL, schema string) (string, error) {
	if !strings.Contains(rawURL, "://") {
		return rawURL + " search_path=" + schema, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// connect opens one connection to the database rawURL names, a URL or a
// keyword/value string, without the postgres package's own parameter
// mode, which pgx would send the server as a setting it does not know.
func connect(ctx context.Context, rawURL string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	delete(cfg.RuntimeParams, "mode")
	return pgx.ConnectConfig(ctx, cfg)
}
