package sqlite_test

import (
	"net/url"
	"testing"

	"github.com/shardflow/shardflow/persist/location/sqlite"
)

// FuzzParseURL: any URL a user may type gives a path or an error, never a
// panic, and an accepted URL names a file.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"sqlite:///a/b.db", "sqlite://./x.db", "sqlite:x.db?busy_timeout=1s", "sqlite:x.db?mode=ro", "sqlite://", "sqlite:%zz", "sqlite:///a#b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		path, opts, err := sqlite.ParseURL(u)
		if err == nil && (path == "" || opts.BusyTimeout < 0) {
			t.Fatalf("ParseURL(%q) = %q, %+v with no error", raw, path, opts)
		}
	})
}
