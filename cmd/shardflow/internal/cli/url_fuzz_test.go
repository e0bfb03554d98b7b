package cli

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzRedactURL builds URLs whose passwords, in the user part and in a
// password parameter, hold a marker found nowhere else, and checks that
// redactURL never shows the marker, whatever else the URL holds.
func FuzzRedactURL(f *testing.F) {
	f.Add("postgres", "user", "pw", "host:5432", "db", "sslmode=disable", true, true)
	f.Add("sqlite", "", "", "", "/tmp/c.db", "mode=ro", false, false)
	f.Add("s3", "k", "s", "bucket", "a b", "x=%zz&password", false, true)
	f.Add("postgres", "u", "a/b?c#d@e", "h", "db", "", true, false)
	f.Fuzz(func(t *testing.T, scheme, user, pass, host, path, query string, inUser, inQuery bool) {
		const marker = "Zq9SECRET"
		clean := func(s string) string { return strings.ReplaceAll(s, marker, "") }
		pass = marker + clean(pass)
		// The user part escaped, as url.UserPassword writes it, and as a
		// person types it, where a password may hold '/', '?', '#', '@'.
		for _, creds := range []string{url.UserPassword(clean(user), pass).String(), clean(user) + ":" + pass} {
			raw := clean(scheme) + "://"
			if inUser {
				raw += creds + "@"
			}
			raw += clean(host) + "/" + clean(path)
			q := clean(query)
			if inQuery {
				if q != "" {
					q += "&"
				}
				q += "password=" + url.QueryEscape(pass)
			}
			if q != "" {
				raw += "?" + q
			}
			if got := redactURL(raw); strings.Contains(got, marker) || strings.Contains(got, url.QueryEscape(marker)) {
				t.Fatalf("redactURL(%q) = %q shows the password", raw, got)
			}
		}
	})
}

// FuzzReadOnlyURL: readOnlyURL only ever appends, once, a mode=ro the URL
// then carries as its one mode, and changes nothing the second time.
func FuzzReadOnlyURL(f *testing.F) {
	for _, s := range []string{
		"sqlite:///tmp/c.db", "sqlite:///tmp/c.db?", "sqlite:///tmp/c.db?busy_timeout=5s", "sqlite:///x?mode=rw",
		"postgres://u:p@h/db?sslmode=disable", "postgresql://h/db#frag", "file:///tmp/b", "postgres://h/db?x=%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := readOnlyURL(raw)
		if !strings.HasPrefix(got, raw) {
			t.Fatalf("readOnlyURL(%q) = %q: not an append", raw, got)
		}
		if again := readOnlyURL(got); again != got {
			t.Fatalf("readOnlyURL twice: %q then %q", got, again)
		}
		if got == raw {
			return
		}
		if added := got[len(raw):]; added != "?mode=ro" && added != "&mode=ro" && added != "mode=ro" {
			t.Fatalf("readOnlyURL(%q) appended %q", raw, added)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("readOnlyURL(%q) = %q, which does not parse: %v", raw, got, err)
		}
		if q, _ := url.ParseQuery(u.RawQuery); len(q["mode"]) != 1 || q.Get("mode") != "ro" {
			t.Fatalf("readOnlyURL(%q) = %q: modes %q", raw, got, q["mode"])
		}
	})
}
