package cli

import "testing"

// The read-only fallback opens a sqlite URL with mode=ro, keeping what the
// user gave (an explicit mode, other parameters) and leaving other schemes
// alone.
func TestReadOnlyURL(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite:///d/consensus.db":                 "sqlite:///d/consensus.db?mode=ro",
		"sqlite:///d/consensus.db?busy_timeout=1s": "sqlite:///d/consensus.db?busy_timeout=1s&mode=ro",
		"sqlite:///d/consensus.db?mode=ro":         "sqlite:///d/consensus.db?mode=ro",
		"sqlite:///d/a%20b.db":                     "sqlite:///d/a%20b.db?mode=ro",
		"postgres://u@h/db":                        "postgres://u@h/db",
		"mem://":                                   "mem://",
		"::not a url":                              "::not a url",
	} {
		if got := readOnlyURL(in); got != want {
			t.Errorf("readOnlyURL(%q) = %q, want %q", in, got, want)
		}
	}
}
