package location

import (
	"fmt"
	"math"
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

// CheckNextSeqNo returns nil if a CompareAndSet may make next the head
// after expected: next must be greater. Otherwise it returns op's
// determinate error wrapping ErrSeqNoNotIncreasing, which every backend
// returns for such a call.
func CheckNextSeqNo(op string, expected *SeqNo, next SeqNo) error {
	if expected != nil && next <= *expected {
		return Determinate(op, fmt.Errorf("%w: next %d, expected %d", ErrSeqNoNotIncreasing, next, *expected))
	}
	return nil
}

// SQLSeqNo returns s as the signed 64-bit integer a SQL backend stores,
// and false if s is beyond it (such a backend returns ErrSeqNoTooLarge for
// a version it is asked to store, and holds nothing at such a seqno).
func SQLSeqNo(s SeqNo) (int64, bool) {
	if s > math.MaxInt64 {
		return 0, false
	}
	return int64(s), true
}
