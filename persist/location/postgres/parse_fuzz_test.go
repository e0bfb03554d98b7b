package postgres

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseConfig gives parseConfig connection strings, URLs and
// keyword/value strings alike, whose password carries a marker found
// nowhere else: an error or the name never shows it, mode never reaches
// the server's parameters, and mode=ro makes the sessions read-only.
func FuzzParseConfig(f *testing.F) {
	f.Add("u", "pw", "h:5432", "db", "sslmode=disable", "", true)
	f.Add("u", "pw", "h", "db", "", "ro", true)
	f.Add("u", "p w'x", "h", "db", "connect_timeout=x", "rw", false)
	f.Add("", "", "[::1]:1", "", "", "bogus", true)
	f.Add("u", "pw", "h", "db", "default_transaction_read_only=on", "", true)
	f.Fuzz(func(t *testing.T, user, pass, host, db, extra, mode string, asURL bool) {
		const marker = "Zq9SECRET"
		clean := func(s string) string { return strings.ReplaceAll(s, marker, "") }
		pass = marker + clean(pass)
		var raw string
		if asURL {
			raw = "postgres://" + url.UserPassword(clean(user), pass).String() + "@" + clean(host) + "/" + url.PathEscape(clean(db))
			q := clean(extra)
			if mode != "" {
				if q != "" {
					q += "&"
				}
				q += "mode=" + url.QueryEscape(clean(mode))
			}
			if q != "" {
				raw += "?" + q
			}
		} else {
			quote := func(v string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'" }
			raw = "user=" + quote(clean(user)) + " password=" + quote(pass) + " host=" + quote(clean(host)) + " dbname=" + quote(clean(db)) + " " + clean(extra)
			if mode != "" {
				raw += " mode=" + quote(clean(mode))
			}
		}
		cfg, name, readOnly, err := parseConfig(raw)
		if err != nil {
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("parseConfig(%q): error shows the password: %v", raw, err)
			}
			return
		}
		if strings.Contains(name, marker) {
			t.Fatalf("parseConfig(%q): name %q shows the password", raw, name)
		}
		params := cfg.ConnConfig.RuntimeParams
		if _, ok := params["mode"]; ok {
			t.Fatalf("parseConfig(%q): mode would reach the server: %v", raw, params)
		}
		// mode=ro makes the sessions read-only; a user may also ask for
		// read-only sessions directly, and the server then refuses writes.
		if readOnly && params["default_transaction_read_only"] != "on" {
			t.Fatalf("parseConfig(%q): read-only, but session parameters %v", raw, params)
		}
		// In a URL, the mode the query holds (as net/url reads it) is the
		// mode taken: ro read-only, rw or none not (unless the session
		// parameters ask for read-only directly).
		if u, err := url.Parse(raw); asURL && err == nil {
			switch modes := u.Query()["mode"]; {
			case len(modes) == 1 && modes[0] == "ro":
				if !readOnly {
					t.Fatalf("parseConfig(%q): mode=ro, but not read-only", raw)
				}
			case len(modes) == 0 || len(modes) == 1 && modes[0] == "rw":
				if readOnly && !strings.Contains(raw, "read_only") {
					t.Fatalf("parseConfig(%q): read-only without mode=ro", raw)
				}
			default:
				t.Fatalf("parseConfig(%q): modes %q taken", raw, modes)
			}
		}
	})
}
