package location

import (
	"net/url"
	"path/filepath"
)

// PathURL is the URL with scheme of the local path p (file, sqlite),
// escaped so that a path holding '%', '?', '#' or a space names itself and
// not another path. Build such URLs with it rather than by concatenation.
func PathURL(scheme, p string) string {
	return (&url.URL{Scheme: scheme, Path: filepath.ToSlash(p)}).String()
}
