package s3

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
)

// FuzzGocloudURL: any string gives an error or a URL gocloud can open for
// the same bucket, whose one prefix is the input's path, if it has one.
func FuzzGocloudURL(f *testing.F) {
	for _, s := range []string{
		"s3://b", "s3://b?region=us-east-1", "s3://b/teamA", "s3://b/a/b/?region=x&endpoint=http://h:1",
		"s3://b/dir?prefix=other/", "s3://b?prefix=p/", "s3:///nohost", "s3://b/%zz", "http://b/x", "s3://b/a b?x=%", "s3://b?region=x;endpoint=y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, u, err := gocloudURL(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "s3: ") {
				t.Fatalf("error %q does not say it is s3's", err)
			}
			return
		}
		g, err := url.Parse(out)
		if err != nil {
			t.Fatalf("%q -> %q, which does not parse: %v", raw, out, err)
		}
		// gocloud reads the query with url.Query, which drops what does
		// not parse: nothing may be dropped.
		if _, err := url.ParseQuery(g.RawQuery); err != nil {
			t.Fatalf("%q -> %q, whose parameters do not parse: %v", raw, out, err)
		}
		if g.Scheme != "s3" || g.Host != u.Host || g.Host == "" {
			t.Fatalf("%q -> %q: scheme %q host %q, want s3 and %q", raw, out, g.Scheme, g.Host, u.Host)
		}
		dir := strings.Trim(u.Path, "/")
		if dir == "" {
			if out != raw {
				t.Fatalf("%q without a path became %q", raw, out)
			}
			return
		}
		q := g.Query()
		if g.Path != "" || len(q["prefix"]) != 1 || q.Get("prefix") != dir+"/" {
			t.Fatalf("%q -> %q: path %q, prefixes %q, want none and [%q]", raw, out, g.Path, q["prefix"], dir+"/")
		}
	})
}

// A URL gocloudURL refuses is not quoted whole in the error: it may hold
// a secret. One that parses is shown redacted; one that does not, not at
// all (url.Parse's error quotes it).
func TestGocloudURLErrorsHideSecrets(t *testing.T) {
	for _, raw := range []string{"s3://KEY:SE%zzCRET@bucket", "http://KEY:SECRET@bucket", "s3://KEY:SECRET@/path"} {
		_, _, err := gocloudURL(raw)
		if err == nil || strings.Contains(err.Error(), "CRET") {
			t.Errorf("gocloudURL(%q): %v", raw, err)
		}
	}
}

// Credentials in an s3 URL, which gocloud ignores and then quotes in its
// errors, are refused without being quoted, in the user part or in the
// endpoint parameter. Such a URL opened, and an error gocloud gave later
// (an unknown parameter, say) printed the secret twice.
func TestOpenRefusesCredentialsInTheURL(t *testing.T) {
	for _, raw := range []string{
		"s3://KEY:hunter2@bucket?region=us-east-1&bogus=1",
		"s3://KEY:hunter2@bucket/dir?region=us-east-1",
		"s3://bucket?region=us-east-1&endpoint=http://AK:hunter2@minio:9000",
	} {
		_, err := location.OpenBlob(context.Background(), raw)
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "credential") {
			t.Errorf("OpenBlob(%q): %v", raw, err)
		}
	}
}
