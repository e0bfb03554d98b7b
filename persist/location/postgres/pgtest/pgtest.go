package pgtest

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The cluster Main started for this test binary, or why there is none.
var (
	shared     *Cluster
	skipReason string
	dbCounter  atomic.Int64
)

// Main starts the package's server, runs the tests and stops it, returning
// the exit code for os.Exit. When PostgreSQL is unavailable it logs why, and
// the tests that need a database skip.
func Main(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := Start(ctx)
	cancel()
	switch {
	case errors.Is(err, ErrUnavailable):
		skipReason = err.Error()
		log.Printf("pgtest: SKIPPING every PostgreSQL test: %v", err)
	case err != nil:
		log.Printf("pgtest: starting PostgreSQL failed: %v", err)
		return 1
	default:
		shared = c
	}
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			log.Printf("pgtest: stopping PostgreSQL: %v", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// NewDatabase creates an empty database on the server Main started and
// returns its URL; the database is dropped when t ends. Without a server it
// skips t, saying why.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if shared == nil {
		if skipReason == "" {
			skipReason = "pgtest.Main was not called from TestMain"
		}
		t.Skipf("SKIPPING PostgreSQL test: %s", skipReason)
	}
	u, err := shared.CreateDatabase(t.Context(), fmt.Sprintf("shardflow_test_%d_%d", time.Now().UnixNano(), dbCounter.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := shared.DropDatabase(ctx, u); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return u
}

// CreateDatabase creates the database name and returns its URL.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := c.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return "", fmt.Errorf("pgtest: server url: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops the database dbURL names, disconnecting its sessions.
func (c *Cluster) DropDatabase(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("pgtest: database url: %w", err)
	}
	return c.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{u.Path[1:]}.Sanitize()+" WITH (FORCE)")
}

func (c *Cluster) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		return fmt.Errorf("pgtest: connect to %s: %w", redact(c.URL), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgtest: %s: %w", sql, err)
	}
	return nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
