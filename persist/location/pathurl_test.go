package location

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

var pathURLCases = []string{
	"/tmp/plain", "/tmp/a%41 b", "/tmp/q?x=1", "/tmp/h#frag", "/tmp/sp ace/x",
	"rel/plain", "rel/a%41 b", "rel/q?x=1", "rel/h#frag", "sp ace/x", "a:b/c",
}

// A path must come back from its URL unchanged, whatever it holds; a
// concatenated "file://"+p fails the cases holding '%', '?' or '#', and a
// relative path comes back escaped unless LocalPath undoes the escapes of
// the opaque form PathURL writes for it.
func TestPathURLRoundTrip(t *testing.T) {
	for _, p := range pathURLCases {
		s := PathURL("file", p)
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if u.Scheme != "file" || u.RawQuery != "" || u.Fragment != "" {
			t.Errorf("%q -> %q parses back with query %q fragment %q", p, s, u.RawQuery, u.Fragment)
		}
		got, err := LocalPath(u)
		if err != nil || got != p {
			t.Errorf("%q -> %q -> LocalPath %q, %v", p, s, got, err)
		}
	}
}

func TestLocalPathForms(t *testing.T) {
	for s, want := range map[string]string{
		"file:///abs/x":          "/abs/x",
		"file://localhost/abs/x": "/abs/x",
		"file://rel/x":           "rel/x",
		"file:rel/x":             "rel/x",
		"file:rel/a%20b":         "rel/a b",
		"sqlite:///abs/c.db":     "/abs/c.db",
		"file:":                  "",
	} {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := LocalPath(u); err != nil || got != want {
			t.Errorf("LocalPath(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	u := &url.URL{Scheme: "file", Opaque: "rel/bad%zz"}
	if _, err := LocalPath(u); err == nil {
		t.Errorf("LocalPath(%q) took a bad escape", u)
	}
}

// A URL that does not parse is not quoted in the error, nor any piece of
// it: it may hold a password. url.Parse's own error quotes it whole, and
// its causes quote pieces: a bad escape, or, for a password holding a '/',
// '?' or '#' (which end the host early), the password as an invalid port.
func TestOpenErrorsHideUnparsableURLs(t *testing.T) {
	for _, raw := range []string{
		"postgres://u:se%zzcret@127.0.0.1:1/db",
		"postgres://u:se/cret@127.0.0.1:1/db",
		"postgres://u:se?cret@127.0.0.1:1/db",
		"postgres://u:se#cret@127.0.0.1:1/db",
	} {
		_, err := OpenConsensus(t.Context(), raw)
		if err == nil || strings.Contains(err.Error(), "cret") || !errors.Is(err, ErrUnparsableURL) {
			t.Errorf("OpenConsensus(%q): %v", raw, err)
		}
		_, err = OpenBlob(t.Context(), raw)
		if err == nil || strings.Contains(err.Error(), "cret") || !errors.Is(err, ErrUnparsableURL) {
			t.Errorf("OpenBlob(%q): %v", raw, err)
		}
	}
}

// Params takes the known parameters, once each, and refuses the others, a
// repeated one and a query that does not parse, quoting no value.
func TestParams(t *testing.T) {
	for raw, want := range map[string]string{
		"x:///p?mode=ro&busy_timeout=1s": "",
		"x:///p":                         "",
		"x:///p?":                        "",
		"x:///p?mode=ro&mode=ro":         `parameter "mode" given 2 times`,
		"x:///p?secret=hunter2":          `unknown parameter "secret" (known: mode, busy_timeout)`,
		"x:///p?mode=ro;busy_timeout=1s": ErrBadParameters.Error(),
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Params(u, "mode", "busy_timeout")
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", raw, err)
		case want == "" && q.Get("mode") != u.Query().Get("mode"):
			t.Errorf("%s: mode %q", raw, q.Get("mode"))
		case want != "" && (err == nil || err.Error() != want):
			t.Errorf("%s: error %v, want %s", raw, err, want)
		}
	}
}
