package pgtest

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The cluster Main started for this test binary, or why there is none.
// With MainLazy, start starts it at the first NewDatabase.
var (
	shared     *Cluster
	skipReason string
	dbCounter  atomic.Int64
	lazy       struct {
		sync.Mutex
		on, tried bool
		err       error // a failure to start other than ErrUnavailable
	}
)

// Main starts the package's server, runs the tests and stops it, returning
// the exit code for os.Exit. When PostgreSQL is unavailable it logs why, and
// the tests that need a database skip.
func Main(m *testing.M) int {
	if err := start(); err != nil {
		return 1
	}
	return runAndStop(m)
}

// MainLazy is Main for a test binary that seldom needs PostgreSQL, such as
// a benchmark suite: the server starts at the first NewDatabase rather than
// before the tests, so a run that needs none neither waits for it nor runs
// beside it, and it is stopped after the tests if it started.
func MainLazy(m *testing.M) int {
	lazy.Lock()
	lazy.on = true
	lazy.Unlock()
	return runAndStop(m)
}

// start starts the shared server, or records why there is none (and logs
// it). An error other than ErrUnavailable is returned, and logged.
func start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := Start(ctx)
	cancel()
	switch {
	case errors.Is(err, ErrUnavailable):
		skipReason = err.Error()
		log.Printf("pgtest: SKIPPING every PostgreSQL test: %v", err)
	case err != nil:
		log.Printf("pgtest: starting PostgreSQL failed: %v", err)
		return err
	default:
		shared = c
	}
	return nil
}

// startLazily starts the shared server at the first call under MainLazy.
func startLazily() error {
	lazy.Lock()
	defer lazy.Unlock()
	if lazy.on && !lazy.tried {
		lazy.tried = true
		lazy.err = start()
	}
	return lazy.err
}

func runAndStop(m *testing.M) int {
	code := m.Run()
	lazy.Lock() // a lazy start may still be under way
	defer lazy.Unlock()
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

// NewDatabase creates an empty database on the server Main (or MainLazy)
// started and returns its URL; the database is dropped when t ends. Without
// a server it skips t, saying why.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if err := startLazily(); err != nil {
		t.Fatalf("pgtest: starting PostgreSQL failed: %v", err)
	}
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
