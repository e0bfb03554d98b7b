package location_test

import (
	"context"
	"errors"
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
		"s3://b/dir?prefix=p/", "%zz://x",
	} {
		if b, err := location.OpenBlob(ctx, raw); !errors.Is(err, location.ErrBadURL) {
			if b != nil {
				b.Close()
			}
			t.Errorf("blob %s: %v, want an ErrBadURL", raw, err)
		}
	}
	for _, raw := range []string{
		"gopher://x", "sqlite:x.db?bogus=1", "sqlite:x.db?mode=ro;busy_timeout=1s", "sqlite:",
		"postgres://h/db?mode=sometimes", "postgres://u:p/ss@h/db",
	} {
		if c, err := location.OpenConsensus(ctx, raw); !errors.Is(err, location.ErrBadURL) {
			if c != nil {
				c.Close()
			}
			t.Errorf("consensus %s: %v, want an ErrBadURL", raw, err)
		}
	}
	c, err := location.OpenConsensus(ctx, location.PathURL("sqlite", filepath.Join(dir, "no", "such", "dir", "c.db")))
	if err == nil {
		c.Close()
		t.Fatal("a sqlite database in no directory opened")
	}
	if errors.Is(err, location.ErrBadURL) {
		t.Errorf("a store that fails to open matches ErrBadURL: %v", err)
	}
}
