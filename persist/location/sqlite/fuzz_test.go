package sqlite_test

import (
	"net/url"
	"testing"

	"github.com/shardflow/shardflow/persist/location/sqlite"
)

// FuzzParseURL: any URL a user may type gives a path or an error, never a
// panic, and an accepted URL names a file.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"sqlite:///a/b.db", "sqlite://./x.db", "sqlite:x.db?busy_timeout=1s", "sqlite:x.db?mode=ro", "sqlite://", "sqlite:%zz", "sqlite:///a#b", "sqlite:x.db?mode=ro;busy_timeout=1s", "sqlite:x.db?mode=ro&mode=rw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		path, opts, err := sqlite.ParseURL(u)
		if err != nil {
			return
		}
		if path == "" || opts.BusyTimeout < 0 {
			t.Fatalf("ParseURL(%q) = %q, %+v with no error", raw, path, opts)
		}
		// Every parameter was read: none dropped, none given twice, and
		// the mode is the one asked for.
		q, qerr := url.ParseQuery(u.RawQuery)
		if qerr != nil {
			t.Fatalf("ParseURL(%q) took parameters that do not parse: %v", raw, qerr)
		}
		for k, vs := range q {
			if len(vs) != 1 {
				t.Fatalf("ParseURL(%q) took %q %d times", raw, k, len(vs))
			}
		}
		if opts.ReadOnly != (q.Get("mode") == "ro") {
			t.Fatalf("ParseURL(%q): read-only %v, mode %q", raw, opts.ReadOnly, q.Get("mode"))
		}
	})
}
