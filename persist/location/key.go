package location

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyBytes is the longest consensus key every backend stores: SQL text
// columns and PostgreSQL's notifications (whose payload is the key, and
// must be under 8000 bytes) take it whole. persist's shard ids are far
// shorter.
const MaxKeyBytes = 1024

// CheckKey returns nil for a key every Consensus backend can store: valid
// UTF-8, no NUL, at most MaxKeyBytes bytes. Otherwise it returns op's
// determinate error wrapping ErrInvalidKey, which every backend returns for
// such a key, so that a key works on all of them or on none.
func CheckKey(op, key string) error {
	var why string
	switch {
	case len(key) > MaxKeyBytes:
		why = fmt.Sprintf("%d bytes, over %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		why = "not valid UTF-8"
	case strings.IndexByte(key, 0) >= 0:
		why = "holds a NUL"
	default:
		return nil
	}
	return Determinate(op, fmt.Errorf("%w: %s", ErrInvalidKey, why))
}
