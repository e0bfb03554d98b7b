package location_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
	_ "github.com/shardflow/shardflow/persist/location/file"
	_ "github.com/shardflow/shardflow/persist/location/mem"
	_ "github.com/shardflow/shardflow/persist/location/postgres"
	_ "github.com/shardflow/shardflow/persist/location/s3"
	_ "github.com/shardflow/shardflow/persist/location/sqlite"
)

// A URL that names no store, by any backend's rule, matches ErrBadURL and
// opens nothing; a store that fails to open, or opens, does not match it.
func TestBadURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, raw := range []string{
		"ftp://host/dir", "file:blob?mode=rw", "file:///x#frag", "mem://?x=1", "s3://",
		"s3://b/dir?prefix=p/", "%zz://x", "s3://b?bogus=1", "s3://b?prefix=", "s3://b?key=k",
	} {
		checkRefused(t, "blob", raw, location.CheckBlobURL, location.OpenBlob)
	}
	for _, raw := range []string{
		"gopher://x", "sqlite:x.db?bogus=1", "sqlite:x.db?mode=ro;busy_timeout=1s", "sqlite:", "sqlite:a%3Fb.db", "sqlite:file:x.db",
		"postgres://h/db?mode=sometimes", "postgres://u:p/ss@h/db",
	} {
		checkRefused(t, "consensus", raw, location.CheckConsensusURL, location.OpenConsensus)
	}
	// Stores that fail to open, by URLs of the right form: a sqlite file
	// in no directory, a PostgreSQL CA file that is not there (pgx reads it
	// while parsing the URL).
	for _, raw := range []string{
		location.PathURL("sqlite", filepath.Join(dir, "no", "such", "dir", "c.db")),
		"postgres://u@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=" + filepath.Join(dir, "no-ca.pem"),
	} {
		c, err := location.OpenConsensus(ctx, raw)
		if err == nil {
			c.Close()
			t.Fatalf("%s opened", raw)
		}
		if c != nil {
			t.Errorf("%s: a failed open returned a Consensus (%T) beside its error", raw, c)
		}
		if errors.Is(err, location.ErrBadURL) {
			t.Errorf("%s: a store that fails to open matches ErrBadURL: %v", raw, err)
		}
	}
}

// checkRefused checks that raw, a kind store's URL of the wrong form, is an
// ErrBadURL to check and to open, and that a failed open returns no store
// beside its error.
func checkRefused[S interface{ Close() error }](t *testing.T, kind, raw string, check func(string) error, open func(context.Context, string) (S, error)) {
	t.Helper()
	if err := check(raw); !errors.Is(err, location.ErrBadURL) {
		t.Errorf("check of %s URL %s = %v, want an ErrBadURL", kind, raw, err)
	}
	st, err := open(context.Background(), raw)
	if err != nil && any(st) != nil {
		t.Errorf("%s %s: a failed open returned a store (%T) beside its error", kind, raw, st)
		return
	}
	if !errors.Is(err, location.ErrBadURL) {
		if any(st) != nil {
			st.Close()
		}
		t.Errorf("%s %s: %v, want an ErrBadURL", kind, raw, err)
	}
}

// The URLs of stores that may open pass the checks, opening nothing.
func TestCheckURLOpensNothing(t *testing.T) {
	dir := t.TempDir()
	for _, raw := range []string{location.PathURL("file", filepath.Join(dir, "blob")), "file:rel/blob?mode=ro", "mem://", "s3://bucket/dir?region=x"} {
		if err := location.CheckBlobURL(raw); err != nil {
			t.Errorf("CheckBlobURL(%s): %v", raw, err)
		}
	}
	for _, raw := range []string{location.PathURL("sqlite", filepath.Join(dir, "c.db")) + "?mode=ro", "mem://x", "postgres://u@h/db?mode=ro",
		"postgres://u@h/db?sslmode=verify-full&sslrootcert=" + filepath.Join(dir, "no-ca.pem")} {
		if err := location.CheckConsensusURL(raw); err != nil {
			t.Errorf("CheckConsensusURL(%s): %v", raw, err)
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("the checks left %v in %s (%v)", entries, dir, err)
	}
}
