package dataflow

import (
	"fmt"
	"sync"

	"github.com/shardflow/shardflow/frontier"
)

// group is what the workers made by one NewWorkers call share: the values
// their dataflows ask for with Shared.
type group struct {
	mu     sync.Mutex
	shared map[sharedKey]*sharedEntry
}

// sharedKey names a shared value: the dataflow's creation index (the same
// on every worker, since all build the same dataflows) and the caller's key.
type sharedKey struct {
	dataflow int
	key      string
}

type sharedEntry struct {
	value any
	refs  int // workers holding it: their dataflow has not retired yet
}

// Shared returns the value the workers of this process share under key in
// s's dataflow. The first worker to ask calls init; every other worker that
// asks with the same key in the same dataflow gets the same value. The
// value is forgotten once every worker that asked has retired the dataflow
// (completed, or closed), so a later dataflow's init runs afresh. A
// dataflow cannot complete on one worker before every worker has built it,
// unless it has no outputs at all (nothing holds it open): then a worker
// that builds it after another has completed it gets a value of its own.
//
// A value with a method Close() (no result: nothing could receive an
// error) is closed when it is forgotten, on the goroutine of the worker
// that retired the dataflow last, or, if a worker of Execute panicked (so
// it never retires its dataflows), when Execute returns. That is where a
// value owning goroutines stops them whatever way the dataflow ended: once
// a worker aborts, its operators run no more.
//
// It lets the operators of one dataflow on different workers pool what is
// per process rather than per worker, such as I/O goroutines. The value is
// used from the workers' goroutines at once: it must be safe for that.
// Asking again on the same worker returns the same value; asking for a
// value of another type under the same key panics.
func Shared[T frontier.Timestamp[T], V any](s *Scope[T], key string, init func() V) V {
	k := sharedKey{dataflow: s.index, key: key}
	g := s.w.group
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.shared[k]
	if !ok {
		e = &sharedEntry{value: init()}
		g.shared[k] = e
	}
	v, ok := e.value.(V)
	if !ok {
		panic(fmt.Sprintf("dataflow: Shared(%q) in dataflow %q holds a %T, asked for a %T", key, s.name, e.value, v))
	}
	e.refs++
	s.shared = append(s.shared, key)
	return v
}

// releaseShared lets go of the values this worker asked for in s, and
// closes those no worker holds any more.
func (s *Scope[T]) releaseShared() {
	if len(s.shared) == 0 {
		return
	}
	g := s.w.group
	var forgotten []any
	g.mu.Lock()
	for _, key := range s.shared {
		k := sharedKey{dataflow: s.index, key: key}
		if e := g.shared[k]; e != nil {
			if e.refs--; e.refs == 0 {
				delete(g.shared, k)
				forgotten = append(forgotten, e.value)
			}
		}
	}
	g.mu.Unlock()
	s.shared = nil
	closeShared(forgotten)
}

// closeAll forgets and closes every value still held: the workers are done
// with them, whether or not they retired their dataflows.
func (g *group) closeAll() {
	g.mu.Lock()
	var held []any
	for k, e := range g.shared {
		held = append(held, e.value)
		delete(g.shared, k)
	}
	g.mu.Unlock()
	closeShared(held)
}

// closeShared closes the values that have a Close method, outside any
// lock: a Close may wait for goroutines.
func closeShared(values []any) {
	for _, v := range values {
		if c, ok := v.(interface{ Close() }); ok {
			c.Close()
		}
	}
}
