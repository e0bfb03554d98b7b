package frontier

import (
	"cmp"
	"fmt"
	"strconv"
)

// Timestamp is a partially ordered time.
//
// LessEqual is the partial order that progress tracking reasons about.
// Compare is a total order that extends it (a.LessEqual(b) implies
// a.Compare(b) <= 0); it exists only so that collections of times can be
// sorted and consolidated, and carries no meaning for progress. The zero value
// of every Timestamp is its minimum.
type Timestamp[T any] interface {
	comparable
	LessEqual(other T) bool
	Compare(other T) int
}

// Lattice is a Timestamp whose elements have a least upper bound (Join) and a
// greatest lower bound (Meet). Joins and meets of antichains need it.
type Lattice[T any] interface {
	Timestamp[T]
	Join(other T) T
	Meet(other T) T
}

// Time is the totally ordered timestamp persist uses.
type Time uint64

// LessEqual reports t <= o.
func (t Time) LessEqual(o Time) bool { return t <= o }

// Compare returns -1, 0 or +1 as t is less than, equal to, or greater than o.
func (t Time) Compare(o Time) int { return cmp.Compare(t, o) }

// Join returns the larger of t and o.
func (t Time) Join(o Time) Time { return max(t, o) }

// Meet returns the smaller of t and o.
func (t Time) Meet(o Time) Time { return min(t, o) }

// String formats t in decimal.
func (t Time) String() string { return strconv.FormatUint(uint64(t), 10) }

// Product is a pair of times ordered by the product order: (a1, b1) <= (a2, b2)
// iff a1 <= a2 and b1 <= b2. Nested scopes use it, the inner coordinate
// counting loop iterations.
type Product[A Lattice[A], B Lattice[B]] struct {
	Outer A
	Inner B
}

// NewProduct returns the pair (outer, inner).
func NewProduct[A Lattice[A], B Lattice[B]](outer A, inner B) Product[A, B] {
	return Product[A, B]{Outer: outer, Inner: inner}
}

// LessEqual is the product order.
func (p Product[A, B]) LessEqual(o Product[A, B]) bool {
	return p.Outer.LessEqual(o.Outer) && p.Inner.LessEqual(o.Inner)
}

// Compare is the lexicographic order, which extends the product order.
func (p Product[A, B]) Compare(o Product[A, B]) int {
	if c := p.Outer.Compare(o.Outer); c != 0 {
		return c
	}
	return p.Inner.Compare(o.Inner)
}

// Join is the coordinate-wise least upper bound.
func (p Product[A, B]) Join(o Product[A, B]) Product[A, B] {
	return Product[A, B]{Outer: p.Outer.Join(o.Outer), Inner: p.Inner.Join(o.Inner)}
}

// Meet is the coordinate-wise greatest lower bound.
func (p Product[A, B]) Meet(o Product[A, B]) Product[A, B] {
	return Product[A, B]{Outer: p.Outer.Meet(o.Outer), Inner: p.Inner.Meet(o.Inner)}
}

// String formats p as (outer, inner).
func (p Product[A, B]) String() string { return fmt.Sprintf("(%v, %v)", p.Outer, p.Inner) }

// LessThan reports a <= b and a != b.
func LessThan[T Timestamp[T]](a, b T) bool { return a != b && a.LessEqual(b) }
