package location

import (
	"net/url"
	"testing"
)

// A path must come back from its URL unchanged, whatever it holds; a
// concatenated "file://"+p fails the cases holding '%', '?' or '#'.
func TestPathURLRoundTrip(t *testing.T) {
	for _, p := range []string{"/tmp/plain", "/tmp/a%41 b", "/tmp/q?x=1", "/tmp/h#frag", "/tmp/sp ace/x"} {
		u, err := url.Parse(PathURL("file", p))
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if u.Scheme != "file" || u.Path != p || u.RawQuery != "" || u.Fragment != "" {
			t.Errorf("%q -> %q parses back as path %q query %q fragment %q", p, PathURL("file", p), u.Path, u.RawQuery, u.Fragment)
		}
	}
}
