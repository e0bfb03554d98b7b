package location

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// PathURL is the URL with scheme of the local path p (file, sqlite),
// escaped so that a path holding '%', '?', '#' or a space names itself and
// not another path. Build such URLs with it rather than by concatenation;
// LocalPath reads the path back.
func PathURL(scheme, p string) string {
	u := &url.URL{Scheme: scheme, Path: filepath.ToSlash(p)}
	if !strings.HasPrefix(u.Path, "/") {
		// url.URL.String writes "scheme://rel/path", which makes the first
		// element a host: "sp ace" or "a:b" is then no URL at all. The
		// opaque form "scheme:rel/path" keeps a relative path whole.
		u.Opaque, u.Path = u.EscapedPath(), ""
	}
	return u.String()
}

// LocalPath is the local path a file or sqlite URL names, in any of the
// forms their packages document:
//
//	scheme:///abs/path            an absolute path
//	scheme://localhost/abs/path   the same (RFC 8089)
//	scheme://rel/path             a path relative to the working directory
//	scheme:rel/path               the same, as PathURL writes it
//
// Escapes are undone in every form, so LocalPath(PathURL(s, p)) is p. It
// returns "" for a URL that names no path; the caller says what it wanted.
func LocalPath(u *url.URL) (string, error) {
	switch {
	case u.Opaque != "":
		// url.Parse leaves an opaque part escaped.
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("url %q: %w", u.Redacted(), err)
		}
		return p, nil
	case u.Host == "localhost":
		return u.Path, nil
	case u.Host != "":
		return u.Host + u.Path, nil
	default:
		return u.Path, nil
	}
}

// ErrBadParameters is wrapped by Query's error. It matches ErrBadURL.
var ErrBadParameters error = badURL{errors.New("parameters do not parse (separate them with '&', escape '%' as %25)")}

// Params is Query for a backend that knows only the parameters named in
// known, each at most once: it refuses any other, and one given twice.
// Its errors quote only the parameter's name.
func Params(u *url.URL, known ...string) (url.Values, error) {
	q, err := Query(u)
	if err != nil {
		return nil, err
	}
	for k, vs := range q {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("unknown parameter %q (known: %s)", k, strings.Join(known, ", "))
		}
		if len(vs) > 1 {
			return nil, fmt.Errorf("parameter %q given %d times", k, len(vs))
		}
	}
	return q, nil
}

// Query returns the parameters of a backend's URL, strictly: u.Query drops
// a pair that does not parse without a word, and with it what the user
// asked for (sqlite:x.db?mode=ro;busy_timeout=1s would open read-write).
// Its error wraps ErrBadParameters and quotes nothing of the URL.
func Query(u *url.URL) (url.Values, error) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, ErrBadParameters
	}
	return q, nil
}
