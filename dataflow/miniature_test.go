package dataflow_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// A miniature of the shard source: a "descs" operator fed by a listen
// goroutine on worker 0, with a disconnected feedback input carrying the
// completed-fetches frontier; a "fetch" operator on every worker, fed by
// exchange on the part's worker, that hands parts to its own fetch
// goroutine and holds a (data, completed) capability pair per time until
// that time's fetches are done. Both are woken from their goroutines by
// SyncActivators and both obey the two-phase shutdown button.
//
// As the real source's, the fetch operator never blocks on its goroutine:
// its listen goroutine produces without end, so a worker that runs late
// receives any number of parts in one step. Sent into the bounded jobs
// channel, they deadlocked it once jobs and results were both full (the
// goroutine parked sending a result, the operator sending a job). Nor
// does the goroutine wait for room in results once the operator has shut
// down and polls no more.

// fetchBuffer is the capacity of a fetch goroutine's jobs and results
// channels.
const fetchBuffer = 1024

type part struct {
	worker int
	id     int
}

type listenEvent struct {
	t        T
	parts    []part
	progress T // the frontier after this batch
}

type miniature struct {
	mu       sync.Mutex
	emitted  map[T]int // parts emitted per time
	fetched  map[T]int // parts fetched per time
	released []T       // times whose "leases" were released
	err      []string
	wg       sync.WaitGroup
	tokens   [][]*dataflow.ShutdownToken
	probes   []*dataflow.ProbeHandle[T]

	// stall, if set, runs at the start of each run of the fetch operator
	// (on its worker's goroutine); emittedTo counts the parts emitted for
	// each worker, and emittedHook, if set, sees the counts after each
	// event (under mu).
	stall       func(w *dataflow.Worker)
	emittedTo   map[int]int
	emittedHook func(emittedTo map[int]int)
}

func (m *miniature) releasedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.released)
}

func (m *miniature) fail(s string) {
	m.mu.Lock()
	m.err = append(m.err, s)
	m.mu.Unlock()
}

func (m *miniature) build(w *dataflow.Worker) {
	probe := dataflow.NewProbeHandle[T]()
	var tokens []*dataflow.ShutdownToken
	dataflow.Dataflow(w, "source", func(s *dataflow.Scope[T]) {
		loop, completed := dataflow.Feedback[part](s, dataflow.AddTime(1))

		// descs
		db := dataflow.NewBuilder(s, "descs")
		done := dataflow.AddInput(db, completed, dataflow.Pipeline[part]())
		descsOut, descs := dataflow.AddOutput[part](db)
		db.SetConnection(0, 0, false)
		dButton, dToken := db.ShutdownButton()
		tokens = append(tokens, dToken)
		dAct := db.SyncActivator()
		events := make(chan listenEvent, 4)
		stop := make(chan struct{})
		if w.Index() == 0 {
			m.wg.Go(func() {
				for t := T(0); ; t++ {
					ev := listenEvent{t: t, progress: t + 1}
					for p := range 3 {
						ev.parts = append(ev.parts, part{worker: (int(t) + p) % w.Peers(), id: p})
					}
					select {
					case events <- ev:
						dAct.Activate()
					case <-stop:
						return
					}
				}
			})
		}
		db.Build(func(caps []*dataflow.Capability[T]) func() {
			held := dataflow.NewCapabilitySet(caps...)
			if w.Index() != 0 {
				held.Drop()
			}
			var releasedTo T
			stopped := false
			return func() {
				if dButton.AllPressed() {
					held.Drop()
					if !stopped {
						stopped = true
						close(stop)
					}
					done.ForEach(func(dataflow.CapabilityRef[T], []part) {})
					return
				}
				if dButton.LocalPressed() {
					return
				}
				done.ForEach(func(dataflow.CapabilityRef[T], []part) {})
				// Release every time the completed frontier has passed: the
				// feedback edge adds 1, so time t is complete once t+1 can
				// no longer arrive.
				f := done.Frontier()
				for w.Index() == 0 && !f.IsEmpty() && !f.LessEqual(releasedTo+1) {
					m.mu.Lock()
					if m.fetched[releasedTo] != m.emitted[releasedTo] {
						m.err = append(m.err, fmt.Sprintf("released time %v with %d of %d parts fetched",
							releasedTo, m.fetched[releasedTo], m.emitted[releasedTo]))
					}
					m.released = append(m.released, releasedTo)
					m.mu.Unlock()
					releasedTo++
				}
				// Only the events queued now: the goroutine produces
				// without end, and each later event comes with its own
				// activation. Draining until the channel is empty could
				// keep this run going as long as the goroutine keeps up.
				for n := len(events); n > 0; n-- {
					ev := <-events
					c, _ := held.Get(ev.t)
					session := descsOut.Session(c)
					for _, p := range ev.parts {
						session.Give(p)
					}
					m.mu.Lock()
					m.emitted[ev.t] += len(ev.parts)
					if m.emittedTo != nil {
						for _, p := range ev.parts {
							m.emittedTo[p.worker]++
						}
						if m.emittedHook != nil {
							m.emittedHook(m.emittedTo)
						}
					}
					m.mu.Unlock()
					held.Downgrade(frontier.From(ev.progress))
				}
			}
		})

		// fetch
		fb := dataflow.NewBuilder(s, "fetch")
		in := dataflow.AddInput(fb, descs, dataflow.Exchange(func(p part) uint64 { return uint64(p.worker) }))
		dataOut, data := dataflow.AddOutput[part](fb)
		compOut, comp := dataflow.AddOutput[part](fb)
		fButton, fToken := fb.ShutdownButton()
		tokens = append(tokens, fToken)
		fAct := fb.SyncActivator()
		type fetchJob struct {
			t T
			p part
		}
		jobs := make(chan fetchJob, fetchBuffer)
		results := make(chan fetchJob, fetchBuffer)
		// quit is closed at shutdown: the operator polls no more, so the
		// goroutine must not wait for room in results (the jobs still
		// queued, and the one in hand, can be more than it holds).
		quit := make(chan struct{})
		m.wg.Go(func() {
			for j := range jobs {
				select {
				case results <- j:
					fAct.Activate()
				case <-quit:
				}
			}
			close(results)
		})
		fb.Build(func(caps []*dataflow.Capability[T]) func() {
			caps[0].Drop()
			caps[1].Drop()
			type flight struct {
				data, comp *dataflow.Capability[T]
				count      int
			}
			inflight := map[T]*flight{}
			closed := false
			// queued holds the jobs the jobs channel had no room for: the
			// goroutine activates the operator after each result, so it
			// runs again while any of them is left.
			var queued []fetchJob
			return func() {
				if m.stall != nil {
					m.stall(w)
				}
				if fButton.AllPressed() {
					queued = nil
					for t, f := range inflight {
						f.data.Drop()
						f.comp.Drop()
						delete(inflight, t)
					}
					if !closed {
						closed = true
						close(quit)
						close(jobs)
					}
					in.ForEach(func(dataflow.CapabilityRef[T], []part) {})
					for {
						select {
						case _, ok := <-results:
							if !ok {
								return
							}
						default:
							return
						}
					}
				}
				if fButton.LocalPressed() {
					return
				}
				in.ForEach(func(ref dataflow.CapabilityRef[T], ps []part) {
					for _, p := range ps {
						if p.worker != w.Index() {
							m.fail("part on the wrong worker")
						}
						f := inflight[ref.Time()]
						if f == nil {
							f = &flight{data: ref.RetainFor(0), comp: ref.RetainFor(1)}
							inflight[ref.Time()] = f
						}
						f.count++
						queued = append(queued, fetchJob{ref.Time(), p})
					}
				})
				for len(queued) > 0 {
					select {
					case jobs <- queued[0]:
						queued = queued[1:]
						continue
					default:
					}
					break
				}
				for {
					select {
					case j := <-results:
						f := inflight[j.t]
						dataOut.Session(f.data).Give(j.p)
						m.mu.Lock()
						m.fetched[j.t]++
						m.mu.Unlock()
						if f.count--; f.count == 0 {
							compOut.Session(f.comp).Give(j.p)
							f.data.Drop()
							f.comp.Drop()
							delete(inflight, j.t)
						}
					default:
						return
					}
				}
			}
		})
		loop.Connect(comp)
		dataflow.ProbeWith(data, probe)
	})
	m.mu.Lock()
	m.tokens[w.Index()] = tokens
	m.probes[w.Index()] = probe
	m.mu.Unlock()
}

func TestMiniatureSourceShutdownMidStream(t *testing.T) {
	for _, workers := range []int{1, 2, 3} {
		runMiniature(t, workers, nil)
	}
}

// TestMiniatureFetchOfALateWorker: a worker that runs late receives, in
// one step, more parts than its fetch goroutine's channels hold; its fetch
// operator queues them rather than block on the goroutine. Worker 1's
// fetch operator first waits until worker 0 has emitted that many parts
// for it (a worker the machine did not schedule meanwhile). Sending every
// part into the jobs channel, the operator deadlocked with its goroutine.
func TestMiniatureFetchOfALateWorker(t *testing.T) {
	const late = 2*fetchBuffer + 100 // more than jobs, results and one in hand
	flooded := make(chan struct{})
	runMiniature(t, 2, func(m *miniature) {
		var once sync.Once
		m.emittedTo = map[int]int{}
		m.emittedHook = func(to map[int]int) {
			if to[1] >= late {
				once.Do(func() { close(flooded) })
			}
		}
		stalled := false
		m.stall = func(w *dataflow.Worker) {
			if w.Index() != 1 || stalled {
				return
			}
			stalled = true
			select {
			case <-flooded:
			case <-time.After(time.Minute):
				m.fail("worker 0 did not emit enough parts for worker 1 within a minute")
			}
		}
	})
}

// runMiniature runs the miniature on workers workers, dropping the tokens
// once the stream has run a while, and checks what it did. setup, if not
// nil, adjusts the miniature first. A run still going after two minutes
// fails the test as deadlocked.
func runMiniature(t *testing.T, workers int, setup func(m *miniature)) {
	t.Helper()
	m := &miniature{emitted: map[T]int{}, fetched: map[T]int{},
		tokens: make([][]*dataflow.ShutdownToken, workers), probes: make([]*dataflow.ProbeHandle[T], workers)}
	if setup != nil {
		setup(m)
	}
	done := make(chan error, 1)
	go func() {
		done <- dataflow.Execute(dataflow.Config{Workers: workers}, func(w *dataflow.Worker) {
			m.build(w)
			probe := m.probes[w.Index()]
			// Let the stream run, then drop the tokens mid-stream.
			for probe.LessThan(20) || m.releasedCount() < 10 {
				w.StepOrPark(dataflow.Forever)
			}
			for _, tok := range m.tokens[w.Index()] {
				tok.Drop()
			}
		})
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%d workers: still running after 2m (deadlocked?)", workers)
	}
	m.wg.Wait()
	if err != nil {
		t.Fatalf("%d workers: %v", workers, err)
	}
	if len(m.err) > 0 {
		t.Fatalf("%d workers: %v", workers, m.err)
	}
	if len(m.released) < 10 {
		t.Fatalf("%d workers: only %d times released", workers, len(m.released))
	}
	for i, p := range m.probes {
		if !p.Done() {
			t.Fatalf("%d workers: worker %d probe at %v after shutdown", workers, i, p.Frontier())
		}
	}
}
