package dataflow

import (
	"cmp"
	"fmt"

	"github.com/shardflow/shardflow/frontier"
)

// location names a port of an operator in a dataflow's graph: an output port
// (a source of messages, where capabilities live) or an input port (a target
// of messages, where sent but unconsumed messages are counted).
type location struct {
	op   int32
	port int32
	src  bool
}

func source(op, port int) location { return location{op: int32(op), port: int32(port), src: true} }
func target(op, port int) location { return location{op: int32(op), port: int32(port)} }

func (l location) compare(o location) int {
	if c := cmp.Compare(l.op, o.op); c != 0 {
		return c
	}
	if c := cmp.Compare(l.port, o.port); c != 0 {
		return c
	}
	switch {
	case l.src == o.src:
		return 0
	case l.src:
		return 1
	}
	return -1
}

func (l location) String() string {
	if l.src {
		return fmt.Sprintf("op%d.out%d", l.op, l.port)
	}
	return fmt.Sprintf("op%d.in%d", l.op, l.port)
}

// pointstamp is a (location, time) pair. It satisfies frontier.Timestamp so
// that progress updates can be consolidated with a frontier.ChangeBatch; its
// LessEqual relates only pointstamps of the same location.
type pointstamp[T frontier.Timestamp[T]] struct {
	loc location
	t   T
}

func (p pointstamp[T]) LessEqual(o pointstamp[T]) bool { return p.loc == o.loc && p.t.LessEqual(o.t) }

func (p pointstamp[T]) Compare(o pointstamp[T]) int {
	if c := p.loc.compare(o.loc); c != 0 {
		return c
	}
	return p.t.Compare(o.t)
}

func (p pointstamp[T]) String() string { return fmt.Sprintf("%v@%v", p.loc, p.t) }

// progressBatch is one atomic batch of pointstamp changes: consumed and
// produced messages and capability changes, consolidated and sorted by
// location. Once sent it is shared read-only by every receiver.
type progressBatch[T frontier.Timestamp[T]] []frontier.Update[pointstamp[T]]

// progressMsg is the payload of a ProgressEnvelope: a copy of a batch, held
// in place when it is small (as most are: a step's messages sent and read
// at one time), so that sending it costs one allocation.
type progressMsg[T frontier.Timestamp[T]] struct {
	batch progressBatch[T]
	small [2]frontier.Update[pointstamp[T]]
}

func newProgressMsg[T frontier.Timestamp[T]](updates []frontier.Update[pointstamp[T]]) *progressMsg[T] {
	m := &progressMsg[T]{}
	if len(updates) <= len(m.small) {
		m.batch = m.small[:len(updates)]
	} else {
		m.batch = make(progressBatch[T], len(updates))
	}
	copy(m.batch, updates)
	return m
}
