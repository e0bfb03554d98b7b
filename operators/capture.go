package operators

import (
	"slices"
	"sync"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// EventKind says what an Event carries.
type EventKind uint8

const (
	// MessagesEvent carries records at one time.
	MessagesEvent EventKind = iota
	// ProgressEvent carries changes to the captured stream's frontier,
	// relative to a start of one count at the minimum time.
	ProgressEvent
)

// Event is one step in the recorded history of a stream: records at a time
// (Messages), or a change of the frontier (Progress). The changes of all
// Progress events of one capture sum to -1 at the minimum time: a frontier
// that starts as {minimum} and ends empty.
type Event[T frontier.Timestamp[T], D any] struct {
	Kind     EventKind
	Time     T                    // MessagesEvent
	Data     []D                  // MessagesEvent
	Progress []frontier.Update[T] // ProgressEvent
}

// Messages returns an event carrying data at t.
func Messages[T frontier.Timestamp[T], D any](t T, data []D) Event[T, D] {
	return Event[T, D]{Kind: MessagesEvent, Time: t, Data: data}
}

// Progress returns an event carrying frontier changes.
func Progress[T frontier.Timestamp[T], D any](updates []frontier.Update[T]) Event[T, D] {
	return Event[T, D]{Kind: ProgressEvent, Progress: updates}
}

// EventPusher receives the events of a captured stream, in order.
type EventPusher[T frontier.Timestamp[T], D any] interface {
	Push(e Event[T, D])
}

// EventSource yields recorded events, in order, without blocking.
type EventSource[T frontier.Timestamp[T], D any] interface {
	// Next returns the next event, or false if none is available yet. It
	// hands the event over: Replay gives its Data to the runtime, where
	// the operators downstream may modify it, so a source that keeps its
	// events must return copies.
	Next() (Event[T, D], bool)
}

// NotifyingSource is an EventSource that can call wake (from any goroutine)
// when an event becomes available. Replay uses it to sleep until then;
// without it, Replay polls its sources on every step of its worker.
type NotifyingSource[T frontier.Timestamp[T], D any] interface {
	EventSource[T, D]
	SetWaker(wake func())
}

// EventLink is an unbounded, mutex-guarded queue of events: an EventPusher
// on one goroutine and an EventSource (or a reader of Events) on another.
// It keeps every event it is given, for Events; it suits tests, tools and
// bounded streams, not an endless one. The zero value is ready to use.
type EventLink[T frontier.Timestamp[T], D any] struct {
	mu struct {
		sync.Mutex
		events []Event[T, D]
		next   int // the first event Next has not returned
		wake   func()
	}
}

// NewEventLink returns an empty link.
func NewEventLink[T frontier.Timestamp[T], D any]() *EventLink[T, D] { return &EventLink[T, D]{} }

// Push appends e and wakes the reader.
func (l *EventLink[T, D]) Push(e Event[T, D]) {
	l.mu.Lock()
	l.mu.events = append(l.mu.events, e)
	wake := l.mu.wake
	l.mu.Unlock()
	if wake != nil {
		wake()
	}
}

// Next returns the oldest event not yet returned by Next. Its Data is a
// copy, the caller's to keep or modify: the link keeps its own for Events.
func (l *EventLink[T, D]) Next() (Event[T, D], bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.next == len(l.mu.events) {
		return Event[T, D]{}, false
	}
	e := l.mu.events[l.mu.next]
	l.mu.next++
	if e.Data != nil {
		e.Data = slices.Clone(e.Data)
	}
	return e, true
}

// SetWaker registers wake, called after every Push.
func (l *EventLink[T, D]) SetWaker(wake func()) {
	l.mu.Lock()
	l.mu.wake = wake
	l.mu.Unlock()
}

// Events returns a copy of every event pushed so far, whether or not Next
// returned it. The events' slices are shared: do not modify them.
func (l *EventLink[T, D]) Events() []Event[T, D] {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event[T, D](nil), l.mu.events...)
}

// Capture records s on this worker into p: every batch as a Messages event,
// and every change of s's frontier as a Progress event, after the messages
// that preceded it. Each worker captures its own share of s; give each its
// own pusher (or one per worker index) so that every source replays one
// worker's history. Capture holds one capability, on an output nothing
// reads, until its input frontier is empty, so that the dataflow runs until
// the final Progress is pushed (a worker stopped before that lists it as a
// leak); p is pushed to on the worker's goroutine.
func Capture[T frontier.Timestamp[T], D any](s *dataflow.Stream[T, D], p EventPusher[T, D]) {
	b := dataflow.NewBuilder(s.Scope(), "Capture")
	in := dataflow.AddInput(b, s, dataflow.Pipeline[D]())
	// The output is never sent on. Its capability says, in the progress
	// the runtime tracks, that this operator has a final Progress still to
	// push: a worker stopped before then lists it as a leak. (The runtime
	// runs the operators its last changes activate before a dataflow
	// completes, so the push itself would happen without it.)
	dataflow.AddOutput[struct{}](b)
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		alive := caps[0]
		var zero T
		last := frontier.From(zero) // the frontier reported so far
		return func() {
			for {
				ref, data, ok := in.Next()
				if !ok {
					break
				}
				p.Push(Messages(ref.Time(), data))
			}
			now := in.Frontier()
			if now.Equal(last) {
				return
			}
			var changes frontier.ChangeBatch[T]
			for _, t := range last.Elements() {
				changes.Update(t, -1)
			}
			for _, t := range now.Elements() {
				changes.Update(t, +1)
			}
			last = now.Clone()
			if !changes.IsEmpty() {
				p.Push(Progress[T, D](changes.Drain()))
			}
			if now.IsEmpty() && alive != nil {
				alive.Drop()
				alive = nil
			}
		}
	})
}
