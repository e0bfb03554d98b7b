package postgres

import (
	"errors"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/postgres/pgtest"
)

// A mode=ro handle's sessions are read-only on the server's side: a write
// that got past CompareAndSet's own refusal would fail there as well.
func TestReadOnlySessions(t *testing.T) {
	ctx := t.Context()
	raw := pgtest.NewDatabase(t)
	rw, err := Open(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("mode", "ro")
	u.RawQuery = q.Encode()
	ro, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.pool.Exec(ctx, `INSERT INTO shardflow_consensus VALUES ('k', 1, '')`); !isReadOnlyTransaction(err) {
		t.Fatalf("insert on a mode=ro session: %v, want SQLSTATE 25006", err)
	}
	if _, err := rw.pool.Exec(ctx, `INSERT INTO shardflow_consensus VALUES ('k', 1, '')`); err != nil {
		t.Fatalf("insert on a read-write session: %v", err)
	}
	if _, err := ro.CompareAndSet(ctx, "k", nil, location.VersionedData{SeqNo: 1}); !errors.Is(err, location.ErrReadOnly) {
		t.Fatalf("compare-and-set: %v", err)
	}
}

func isReadOnlyTransaction(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "25006" // read_only_sql_transaction
}
