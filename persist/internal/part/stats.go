package part

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shardflow/shardflow/frontier"
)

// statsKey names the footer key-value entry that carries a part's Stats.
const statsKey = "shardflow.part.stats"

// statsVersion is the first field of the stats entry. A reader refuses a
// version it does not know rather than guess at its fields.
const statsVersion = "v1"

// computeStats folds updates into Stats, leaving Bytes zero.
func computeStats(updates []Update) Stats {
	var s Stats
	s.Rows = int64(len(updates))
	if len(updates) == 0 {
		return s
	}
	lo, hi := updates[0].Key, updates[0].Key
	s.MinTime, s.MaxTime = updates[0].Time, updates[0].Time
	wraps := 0 // net times the running sum wrapped: up (+1) or down (-1)
	for i := range updates {
		u := &updates[i]
		if bytes.Compare(u.Key, lo) < 0 {
			lo = u.Key
		}
		if bytes.Compare(u.Key, hi) > 0 {
			hi = u.Key
		}
		s.MinTime = min(s.MinTime, u.Time)
		s.MaxTime = max(s.MaxTime, u.Time)
		sum := s.DiffsSum + u.Diff
		switch {
		case u.Diff > 0 && sum < s.DiffsSum:
			wraps++
		case u.Diff < 0 && sum > s.DiffsSum:
			wraps--
		}
		s.DiffsSum = sum
	}
	// The true sum is DiffsSum + wraps*2^64: beyond the int64 range unless
	// no wrap is left over, and then kept as the bound it passes.
	switch {
	case wraps > 0:
		s.DiffsSum = math.MaxInt64
	case wraps < 0:
		s.DiffsSum = math.MinInt64
	}
	s.KeyLower = lowerBound(lo)
	s.KeyUpper = upperBound(hi)
	return s
}

// lowerBound returns a copy of key, cut to MaxKeyBoundLen bytes: a prefix
// sorts no later than the key itself.
func lowerBound(key []byte) []byte {
	return bytes.Clone(key[:min(len(key), MaxKeyBoundLen)])
}

// upperBound returns the shortest string of at most MaxKeyBoundLen bytes
// that sorts at or after key, or a copy of key when none exists (its prefix
// is all 0xff).
func upperBound(key []byte) []byte {
	if len(key) <= MaxKeyBoundLen {
		return bytes.Clone(key)
	}
	b := bytes.Clone(key[:MaxKeyBoundLen])
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return bytes.Clone(key)
}

// marshalStats renders s (without Bytes, which depends on the encoding that
// carries it) as the value of the footer entry. Keys are hex: footer values
// must be UTF-8.
func marshalStats(s Stats) string {
	return strings.Join([]string{
		statsVersion,
		strconv.FormatInt(s.Rows, 10),
		strconv.FormatUint(uint64(s.MinTime), 10),
		strconv.FormatUint(uint64(s.MaxTime), 10),
		strconv.FormatInt(s.DiffsSum, 10),
		hex.EncodeToString(s.KeyLower),
		hex.EncodeToString(s.KeyUpper),
	}, " ")
}

// unmarshalStats parses what marshalStats wrote.
func unmarshalStats(v string) (Stats, error) {
	var s Stats
	f := strings.Split(v, " ")
	if len(f) == 0 || f[0] != statsVersion {
		return s, fmt.Errorf("%w: stats entry of unknown version %.16q", ErrCorrupt, v)
	}
	if len(f) != 7 {
		return s, fmt.Errorf("%w: stats entry has %d fields, want 7", ErrCorrupt, len(f))
	}
	var err error
	bad := func(what string, e error) error {
		return fmt.Errorf("%w: stats %s: %v", ErrCorrupt, what, e)
	}
	if s.Rows, err = strconv.ParseInt(f[1], 10, 64); err != nil || s.Rows < 0 || s.Rows > MaxRows {
		return s, bad("rows", fmt.Errorf("%q", f[1]))
	}
	var t uint64
	if t, err = strconv.ParseUint(f[2], 10, 64); err != nil {
		return s, bad("min time", err)
	}
	s.MinTime = frontier.Time(t)
	if t, err = strconv.ParseUint(f[3], 10, 64); err != nil {
		return s, bad("max time", err)
	}
	s.MaxTime = frontier.Time(t)
	if s.DiffsSum, err = strconv.ParseInt(f[4], 10, 64); err != nil {
		return s, bad("diffs sum", err)
	}
	if s.KeyLower, err = decodeBound(f[5]); err != nil {
		return s, bad("key lower", err)
	}
	if s.KeyUpper, err = decodeBound(f[6]); err != nil {
		return s, bad("key upper", err)
	}
	if s.Rows > 0 && (s.MinTime > s.MaxTime || bytes.Compare(s.KeyLower, s.KeyUpper) > 0) {
		return s, fmt.Errorf("%w: stats bounds out of order", ErrCorrupt)
	}
	return s, nil
}

func decodeBound(h string) ([]byte, error) {
	if h == "" {
		return nil, nil
	}
	return hex.DecodeString(h)
}
