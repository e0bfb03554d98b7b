package file_test

import (
	"net/url"
	"testing"

	"github.com/shardflow/shardflow/persist/location/file"
)

// FuzzParseURL: any URL a user may type gives a directory or an error,
// never a panic.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"file:///a/b", "file://./x", "file:x", "file://", "file:///a#b", "file:///a?b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		if dir, err := file.ParseURL(u); err == nil && dir == "" {
			t.Fatalf("ParseURL(%q) accepted an empty directory", raw)
		}
	})
}
