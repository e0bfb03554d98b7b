package frontier

import (
	"fmt"
	"slices"
	"strings"
)

// Antichain is a set of mutually incomparable times: the frontier of some
// set, its minimal elements. The empty antichain is the "done" frontier: no
// time can still appear.
//
// Elements are kept sorted by Compare, so two antichains holding the same
// set are Equal element by element. The zero value is the empty antichain.
type Antichain[T Timestamp[T]] struct {
	elements []T
	// borrowed says elements belong to a MutableAntichain (its Frontier):
	// the first change copies them, so changing the value never changes
	// the multiset's frontier.
	borrowed bool
}

// NewAntichain returns the antichain of the minimal elements of times.
func NewAntichain[T Timestamp[T]](times ...T) Antichain[T] {
	var a Antichain[T]
	for _, t := range times {
		a.Insert(t)
	}
	return a
}

// From returns the antichain holding the single time t.
func From[T Timestamp[T]](t T) Antichain[T] {
	return Antichain[T]{elements: []T{t}}
}

// Minimum returns the antichain holding the minimum time: nothing has
// completed yet.
func Minimum[T Timestamp[T]]() Antichain[T] {
	var zero T
	return From(zero)
}

// Insert adds t unless some element is <= t, removing the elements >= t. It
// reports whether t was added.
func (a *Antichain[T]) Insert(t T) bool {
	for _, e := range a.elements {
		if e.LessEqual(t) {
			return false
		}
	}
	if a.borrowed {
		a.elements, a.borrowed = slices.Clone(a.elements), false
	}
	a.elements = slices.DeleteFunc(a.elements, func(e T) bool { return t.LessEqual(e) })
	i, _ := slices.BinarySearchFunc(a.elements, t, T.Compare)
	a.elements = slices.Insert(a.elements, i, t)
	return true
}

// Extend inserts each of times, reporting whether any was added.
func (a *Antichain[T]) Extend(times ...T) bool {
	added := false
	for _, t := range times {
		added = a.Insert(t) || added
	}
	return added
}

// Clear empties the antichain, keeping its storage (unless it is a
// MutableAntichain's frontier: that stays as it is).
func (a *Antichain[T]) Clear() {
	if a.borrowed {
		a.elements, a.borrowed = nil, false
		return
	}
	a.elements = a.elements[:0]
}

// Elements returns the elements in Compare order. The slice is the
// antichain's own: do not modify it.
func (a Antichain[T]) Elements() []T { return a.elements }

// Len returns the number of elements.
func (a Antichain[T]) Len() int { return len(a.elements) }

// IsEmpty reports whether the antichain is the empty ("done") frontier.
func (a Antichain[T]) IsEmpty() bool { return len(a.elements) == 0 }

// LessEqual reports whether some element is <= t: t may still appear.
func (a Antichain[T]) LessEqual(t T) bool { return lessEqual(a.elements, t) }

// LessThan reports whether some element is strictly < t.
func (a Antichain[T]) LessThan(t T) bool { return lessThan(a.elements, t) }

// Contains reports whether t is an element.
func (a Antichain[T]) Contains(t T) bool { return slices.Contains(a.elements, t) }

// Equal reports whether a and b hold the same elements.
func (a Antichain[T]) Equal(b Antichain[T]) bool { return slices.Equal(a.elements, b.elements) }

// Clone returns a copy that shares no storage with a.
func (a Antichain[T]) Clone() Antichain[T] { return Antichain[T]{elements: slices.Clone(a.elements)} }

// Single returns the only element of an antichain of a total order, and
// whether there was one (false for the empty antichain). It panics if the
// antichain has more than one element.
func (a Antichain[T]) Single() (T, bool) {
	switch len(a.elements) {
	case 0:
		var zero T
		return zero, false
	case 1:
		return a.elements[0], true
	default:
		panic(fmt.Sprintf("frontier: Single on an antichain of %d elements", len(a.elements)))
	}
}

// String formats the antichain as [t1, t2, ...].
func (a Antichain[T]) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range a.elements {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, e)
	}
	b.WriteByte(']')
	return b.String()
}

// LessEqual reports a <= b in the order of frontiers: every element of b is
// >= some element of a. The empty antichain is the greatest frontier.
func LessEqual[T Timestamp[T]](a, b Antichain[T]) bool {
	for _, t := range b.elements {
		if !lessEqual(a.elements, t) {
			return false
		}
	}
	return true
}

// Meet returns the greatest frontier <= both a and b: the minimal elements of
// their union.
func Meet[T Timestamp[T]](a, b Antichain[T]) Antichain[T] {
	out := a.Clone()
	out.Extend(b.elements...)
	return out
}

// Join returns the least frontier >= both a and b: the minimal elements of
// the pairwise joins. Joining with the empty frontier gives the empty
// frontier.
func Join[T Lattice[T]](a, b Antichain[T]) Antichain[T] {
	var out Antichain[T]
	for _, x := range a.elements {
		for _, y := range b.elements {
			out.Insert(x.Join(y))
		}
	}
	return out
}

func lessEqual[T Timestamp[T]](elements []T, t T) bool {
	for _, e := range elements {
		if e.LessEqual(t) {
			return true
		}
	}
	return false
}

func lessThan[T Timestamp[T]](elements []T, t T) bool {
	for _, e := range elements {
		if e != t && e.LessEqual(t) {
			return true
		}
	}
	return false
}
