package shardsource

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

// timeCap is one capability of the fetch operator at a time: each time in
// flight holds two, for the data output and for the completed-fetches one.
type timeCap = *dataflow.Capability[frontier.Time]

// partFuncs are how the fetch operator gets its parts. fetch runs on the
// pool's goroutines and does the I/O: it reads a part's blob. decode does
// the CPU work: it verifies and decodes what fetch read into the part
// emitted. The operator decodes on its worker as it takes a part, so a
// worker decodes one part while its goroutines read the next ones; a
// goroutine that has nothing to read next decodes its part itself (the
// pool's prepare), so the last parts of a burst, or the parts a busy
// worker has not taken yet, are decoded on the cores the goroutines find
// free. replace makes the part of a desc whose Replacement stands in for
// it: nothing is fetched.
type partFuncs[K, V any] struct {
	fetch   func(context.Context, Desc) (*persist.EncodedPart, error)
	decode  func(*persist.EncodedPart) (*Part[K, V], error)
	replace func(*Row) *Part[K, V]
}

// fetched is a fetch goroutine's result: a part's blob as read, or, when
// the goroutine decoded it (prepared), the part or the error decoding gave.
type fetched[K, V any] struct {
	encoded *persist.EncodedPart
	part    *Part[K, V]
	err     error
}

// decoded returns the part, decoding it now unless it was prepared. A
// decoder that panics fails the part as corrupt bytes would: on a fetch
// goroutine the panic would take the process down. The part's buffers are
// then left to the collector, in whatever state the panic left them.
func (f *fetched[K, V]) decoded(decode func(*persist.EncodedPart) (*Part[K, V], error)) (*Part[K, V], error) {
	if e := f.encoded; e != nil {
		f.encoded = nil
		func() {
			defer func() {
				if r := recover(); r != nil {
					f.part, f.err = nil, fmt.Errorf("shardsource: decoding a part panicked: %v\n%s", r, debug.Stack())
				}
			}()
			f.part, f.err = decode(e)
		}()
	}
	return f.part, f.err
}

// release gives back the buffers of a result nobody will emit.
func (f *fetched[K, V]) release() {
	if f.encoded != nil {
		f.encoded.Release()
	}
	if f.part != nil {
		f.part.Release()
	}
}

// partPool is the pool of a source's fetch goroutines.
type partPool[K, V any] = fetchPool[frontier.Time, Desc, *fetched[K, V]]

// partFetcher is a fetch operator's member of its partPool.
type partFetcher[K, V any] = fetcher[frontier.Time, Desc, *fetched[K, V]]

// fetchOp is the state of the fetch operator on one worker.
type fetchOp[K, V any] struct {
	inst     *instance
	in       *dataflow.InPort[frontier.Time, Desc]
	out      *dataflow.OutPort[frontier.Time, *Part[K, V]]
	inflight *inflight[frontier.Time, timeCap]
	parts    partFuncs[K, V]
	fetcher  *partFetcher[K, V]
	start    func() *partFetcher[K, V]
	// frozen is set once a fetch failed, here or on another worker of the
	// process (peers.frozenAt); failedAt is the least time at which one
	// did. From then on nothing at or after failedAt is emitted or
	// completed, so those times keep their capabilities and the output
	// frontier stays at failedAt; earlier times still finish, so it gets
	// there.
	frozen    bool
	failedAt  frontier.Time
	discarded bool // shut down: capabilities dropped, goroutines stopped
	// again runs the operator in the next step, after a run it ended
	// early, having decoded a part, with perhaps more results to poll.
	again *dataflow.Activator
}

// buildFetch builds the fetch operator. Its outputs are the fetched parts
// and the completed-fetches stream, which carries no records: only its
// frontier matters, the least time with a fetch still outstanding.
func buildFetch[K, V any](descs *dataflow.Stream[frontier.Time, Desc], name string, inst *instance,
	funcs partFuncs[K, V], concurrency, buffer int,
) (*dataflow.Stream[frontier.Time, *Part[K, V]], *dataflow.Stream[frontier.Time, struct{}], *dataflow.ShutdownToken) {
	s := descs.Scope()
	b := dataflow.NewBuilder(s, "shard_source_fetch("+name+")")
	in := dataflow.AddInput(b, descs, dataflow.Exchange(func(d Desc) uint64 { return uint64(d.Worker) }))
	out, parts := dataflow.AddOutput[*Part[K, V]](b)
	_, completed := dataflow.AddOutput[struct{}](b)
	button, token := b.ShutdownButton()
	activator := b.SyncActivator()
	again := b.Activator()
	// The copies of this operator on the workers of this process share
	// their fetch goroutines, and know of each other so that a Halt, or an
	// abort, stops them all. The operator's index (the same on every
	// worker) tells apart two sources of one name.
	key := fmt.Sprintf("shardsource(%s)@%d", name, b.Index())
	pool := dataflow.Shared(s, key+".fetch", func() *partPool[K, V] {
		return newFetchPool[frontier.Time, Desc]((*fetched[K, V]).release)
	})
	fetch := func(ctx context.Context, d Desc) (*fetched[K, V], error) {
		e, err := funcs.fetch(ctx, d)
		if err != nil {
			return nil, err
		}
		return &fetched[K, V]{encoded: e}, nil
	}
	prepare := func(f *fetched[K, V]) *fetched[K, V] {
		_, _ = f.decoded(funcs.decode) // kept in f for the operator
		return f
	}
	inst.haltFetch = pool.halt
	inst.peers = dataflow.Shared(s, key+".peers", func() *peers { return &peers{} })
	inst.peers.add(inst)
	b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
		// Capabilities are minted per time from the descs that arrive.
		caps[0].Drop()
		caps[1].Drop()
		op := &fetchOp[K, V]{inst: inst, in: in, out: out, inflight: newInflight[frontier.Time, timeCap](), parts: funcs, again: again}
		op.start = func() *partFetcher[K, V] {
			f := pool.join(concurrency, buffer, fetch, prepare, activator.Activate)
			inst.setFetcher(f.stop, f.settled)
			return f
		}
		return func() {
			switch button.Phase() {
			case dataflow.Running:
				op.run()
			case dataflow.Holding:
				// Keep every capability, drain nothing.
			case dataflow.Draining:
				op.discard()
			}
			if op.inflight.total() == 0 && op.in.Frontier().IsEmpty() {
				// Nothing more can arrive and nothing is held: let the
				// goroutines go, whatever the phase. (In Holding this
				// worker may never run again: the dataflow can complete
				// before the other workers' presses arrive.)
				op.inst.stopFetcher()
			}
		}
	})
	return parts, completed, token
}

// run hands new descs to the fetcher and emits the parts that are back.
// Those a fetch goroutine decoded come ready; of the others it decodes one
// and ends, activated again for the next step. The operators downstream
// then take that part in this step, while it is in this core's cache, and
// release it before the next decode, which reuses its buffers while they
// are warm too. Decoding every part that was back before emitting any
// (their buffers all live at once, each decode writing into colder ones)
// cost P1's replays 5-7% more CPU and wall time.
func (op *fetchOp[K, V]) run() {
	op.in.ForEach(func(ref dataflow.CapabilityRef[frontier.Time], descs []Desc) {
		t := ref.Time()
		for _, d := range descs {
			op.inflight.add(t, func() (timeCap, timeCap) { return ref.DelayedFor(0, t), ref.DelayedFor(1, t) })
			if op.held(t) {
				continue // held, never fetched: the source is frozen here
			}
			if d.listed != t {
				// Its lease went when the fetches at d.listed were done,
				// and GC may have taken its blob since: it is not fetched,
				// and its time is held like a failed fetch's.
				op.freeze(t, fmt.Errorf("%w: part %s listed at %d arrived at %d", ErrDescRetimed, d.Part.Key, d.listed, t))
				continue
			}
			if d.Replacement != nil {
				op.emit(t, op.parts.replace(d.Replacement))
				continue
			}
			if op.fetcher == nil {
				op.fetcher = op.start()
			}
			op.fetcher.submit(t, d)
		}
	})
	if op.fetcher == nil {
		return
	}
	for {
		r, ok := op.fetcher.poll()
		if !ok {
			break
		}
		if op.held(r.time) {
			// Its time keeps its capabilities: neither emitted nor
			// completed, whatever the result.
			if r.err == nil {
				r.value.release()
			}
			continue
		}
		if r.err != nil {
			op.freeze(r.time, r.err)
			continue
		}
		decodedHere := r.value.encoded != nil
		p, err := r.value.decoded(op.parts.decode)
		if err != nil {
			op.freeze(r.time, err)
			continue
		}
		op.emit(r.time, p)
		if decodedHere {
			op.again.Activate() // one decode a step (see above)
			return
		}
	}
}

// emit gives p at its time t and completes one of t's fetches.
func (op *fetchOp[K, V]) emit(t frontier.Time, p *Part[K, V]) {
	op.out.Session(op.inflight.data(t)).Give(p)
	if data, completed, last := op.inflight.complete(t); last {
		data.Drop()
		completed.Drop()
	}
}

// freeze records a failed fetch at t, for the fetch operators of every
// worker of the process: the capabilities of t (and of every later time)
// are kept from now on, so the output frontier never passes t.
func (op *fetchOp[K, V]) freeze(t frontier.Time, err error) {
	op.inst.peers.freeze(t)
	op.takeFreeze()
	op.inst.report("fetch", t, err)
}

// held reports whether the source is frozen at t: a fetch at t or before
// it failed, on this worker or another.
func (op *fetchOp[K, V]) held(t frontier.Time) bool {
	op.takeFreeze()
	return op.frozen && t >= op.failedAt
}

// takeFreeze takes up the least failed time of the process's workers, if
// it is new here: queued fetches at or after it are dropped, as they could
// not be emitted.
func (op *fetchOp[K, V]) takeFreeze() {
	ft, ok := op.inst.peers.frozenAt()
	if !ok || (op.frozen && ft >= op.failedAt) {
		return
	}
	op.frozen, op.failedAt = true, ft
	if op.fetcher != nil { // nil when a desc failed before any fetch
		op.fetcher.discardQueued(func(qt frontier.Time) bool { return qt >= ft })
	}
}

// discard is the second phase of shutdown: stop the goroutines (no fetch is
// in flight once it returns, so the reader may then be expired), drop every
// capability, and discard whatever still arrives.
func (op *fetchOp[K, V]) discard() {
	if !op.discarded {
		op.discarded = true
		op.inst.stopFetcher()
		op.inflight.drain(func(_ frontier.Time, data, completed timeCap) {
			data.Drop()
			completed.Drop()
		})
	}
	op.in.ForEach(func(dataflow.CapabilityRef[frontier.Time], []Desc) {})
}
