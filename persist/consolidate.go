package persist

import (
	"bytes"
	"cmp"
	"slices"
)

// consolidate sorts updates by (key, val, time), sums equal rows and drops
// zero diffs, in place. Every part persist writes is consolidated; Fetch
// relies on it. Diffs whose sum leaves the int64 range are an error
// wrapping ErrDiffOverflow: a wrapped sum would be a different update.
func consolidate(us []Update) ([]Update, error) {
	out, _, err := consolidateRows(us, true)
	return out, err
}

// consolidateRows is consolidate, summing each (key, val, time)'s rows with
// a rowSum: exact, or keeping rows apart (apart reports whether any were),
// as a BatchBuilder's runs do.
func consolidateRows(us []Update, exact bool) (out []Update, apart bool, err error) {
	if !slices.IsSortedFunc(us, compareUpdates) {
		sortUpdates(us)
	}
	n := 0
	keep := func(u Update, diff int64) {
		// n never passes the row being read: a group keeps at most as
		// many rows as it has.
		if diff != 0 {
			us[n] = u
			us[n].Diff = diff
			n++
		}
	}
	for i := 0; i < len(us); {
		u := us[i]
		sum := rowSum{exact: exact}
		sum.reset(u.Diff)
		j := i + 1
		for ; j < len(us) && compareUpdates(u, us[j]) == 0; j++ {
			if closed, ok := sum.add(us[j].Diff); ok {
				keep(u, closed)
				apart = true
			}
		}
		total, ok := sum.total()
		if !ok {
			return nil, false, sum.overflow(u)
		}
		keep(u, total)
		i = j
	}
	return us[:n], apart, nil
}

// rowSum sums the diffs of the rows of one (key, val, time). Exact, it sums
// them all, and total says whether the sum fits an int64. Otherwise, when
// the next diff would take the sum out of range, add returns the stretch
// summed so far, to be kept as a row of its own, and starts another: the
// rows kept, summed exactly, are still the total.
type rowSum struct {
	exact bool
	sum   diffSum
}

// reset starts a new (key, val, time) with its first diff.
func (r *rowSum) reset(d int64) { r.sum = diffSum{wrapped: d} }

// add adds a diff, returning a closed stretch's sum and true when the rows
// must stay apart.
func (r *rowSum) add(d int64) (closed int64, ok bool) {
	if r.exact {
		r.sum.add(d)
		return 0, false
	}
	if s, fits := addDiffs(r.sum.wrapped, d); fits {
		r.sum.wrapped = s
		return 0, false
	}
	closed = r.sum.wrapped
	r.reset(d)
	return closed, true
}

// total returns the sum, and false if it does not fit an int64.
func (r *rowSum) total() (int64, bool) { return r.sum.value() }

// overflow is the error of a total that does not fit, for the row u.
func (r *rowSum) overflow(u Update) error { return r.overflowError(u) }

func (r *rowSum) overflowError(u Update) *DiffOverflowError {
	return &DiffOverflowError{Key: bytes.Clone(u.Key), Val: bytes.Clone(u.Val), Time: u.Time, Above: r.sum.carry > 0}
}

// diffSum adds diffs exactly: wrapped is their sum modulo 2^64, and carry
// counts the times it wrapped past the top less those past the bottom. The
// sum fits an int64 if and only if carry ends at 0, whatever the partial
// sums did on the way (MaxInt64, MaxInt64, -MaxInt64 sums to MaxInt64).
type diffSum struct {
	wrapped int64
	carry   int
}

func (s *diffSum) add(d int64) {
	n := s.wrapped + d
	switch {
	case d > 0 && n < s.wrapped:
		s.carry++
	case d < 0 && n > s.wrapped:
		s.carry--
	}
	s.wrapped = n
}

// value returns the sum, and false if it does not fit in an int64.
func (s diffSum) value() (int64, bool) { return s.wrapped, s.carry == 0 }

// addDiffs returns a+b, and false if the sum does not fit in an int64.
func addDiffs(a, b int64) (int64, bool) {
	s := diffSum{wrapped: a}
	s.add(b)
	return s.value()
}

func compareUpdates(a, b Update) int {
	if c := bytes.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Val, b.Val); c != 0 {
		return c
	}
	return cmp.Compare(a.Time, b.Time)
}
