package pgtest_test

import (
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shardflow/shardflow/persist/location/postgres/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv("PGTEST_LAZY_CHILD") != "" { // a child of TestMainLazy
		os.Exit(pgtest.MainLazy(m))
	}
	os.Exit(pgtest.Main(m))
}

// TestNewDatabase: each call gives a distinct, empty, usable database.
func TestNewDatabase(t *testing.T) {
	a, b := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	if a == b {
		t.Fatalf("two tests share database %s", a)
	}
	conn, err := pgx.Connect(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("new database has %d tables, %v", n, err)
	}
}
