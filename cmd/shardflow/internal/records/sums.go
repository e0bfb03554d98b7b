package records

import (
	"fmt"
	"math"
	"math/bits"
)

// CheckSums returns a *LineError if the diffs of one (key, val, time) in
// recs sum to a count outside the int64 range: stored as one update, the
// count would wrap around and read back as a different number. The error
// names the group's first line. name is the input's name.
func CheckSums(recs []Record, name string) error {
	// No sum leaves the range unless the diffs' magnitudes add up past it,
	// which spares the map in every ordinary input.
	var total uint64
	for _, r := range recs {
		var c uint64
		total, c = bits.Add64(total, magnitude(r.Diff), 0)
		if c != 0 || total > math.MaxInt64 {
			return checkGroups(recs, name)
		}
	}
	return nil
}

func magnitude(d int64) uint64 {
	if d < 0 {
		return uint64(-(d + 1)) + 1
	}
	return uint64(d)
}

type group struct {
	key, val string
	time     uint64
}

// sum is a diff sum that tracks how often it wrapped: its true value is
// diff + carry*2^64, in range only if carry is 0.
type sum struct {
	diff  int64
	carry int
	first int // the line of the group's first record
}

func checkGroups(recs []Record, name string) error {
	sums := make(map[group]*sum)
	for _, r := range recs {
		g := group{string(r.Key), string(r.Val), r.Time}
		s := sums[g]
		if s == nil {
			s = &sum{first: r.Line}
			sums[g] = s
		}
		n := s.diff + r.Diff
		switch {
		case s.diff > 0 && r.Diff > 0 && n < 0:
			s.carry++
		case s.diff < 0 && r.Diff < 0 && n >= 0:
			s.carry--
		}
		s.diff = n
	}
	for _, r := range recs {
		s := sums[group{string(r.Key), string(r.Val), r.Time}]
		if s.carry == 0 {
			continue
		}
		side := "below -9223372036854775808"
		if s.carry > 0 {
			side = "above 9223372036854775807"
		}
		return &LineError{Name: name, Line: s.first, Err: fmt.Errorf(
			"the diffs of key %s val %s at time %d in this input sum to %s, which a diff cannot hold", r.Key, r.Val, r.Time, side)}
	}
	return nil
}
