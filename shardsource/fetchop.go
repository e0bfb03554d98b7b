package shardsource

import (
	"context"
	"fmt"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

// timeCap is one capability of the fetch operator at a time: each time in
// flight holds two, for the data output and for the completed-fetches one.
type timeCap = *dataflow.Capability[frontier.Time]

// partFuncs are how the fetch operator gets its parts. fetch runs on the
// pool's goroutines and does the I/O: it reads a part's blob. decode runs
// on the worker, in the operator, and does the CPU work: it verifies and
// decodes what fetch read into the part emitted. So a worker decodes one
// part while its goroutines read the next ones, and the CPU a source uses
// is spread by its workers, like every other operator's. replace makes the
// part of a desc whose Replacement stands in for it: nothing is fetched.
type partFuncs[K, V any] struct {
	fetch   func(context.Context, Desc) (*persist.EncodedPart, error)
	decode  func(*persist.EncodedPart) (*Part[K, V], error)
	replace func(*Row) *Part[K, V]
}

// encodedPool is the pool of a source's fetch goroutines.
type encodedPool = fetchPool[frontier.Time, Desc, *persist.EncodedPart]

// fetchOp is the state of the fetch operator on one worker.
type fetchOp[K, V any] struct {
	inst     *instance
	in       *dataflow.InPort[frontier.Time, Desc]
	out      *dataflow.OutPort[frontier.Time, *Part[K, V]]
	inflight *inflight[frontier.Time, timeCap]
	parts    partFuncs[K, V]
	fetcher  *fetcher[frontier.Time, Desc, *persist.EncodedPart]
	start    func() *fetcher[frontier.Time, Desc, *persist.EncodedPart]
	// frozen is set once a fetch failed; failedAt is the least time at
	// which one did. From then on nothing at or after failedAt is emitted
	// or completed, so those times keep their capabilities and the output
	// frontier stays at failedAt; earlier times still finish, so it gets
	// there.
	frozen    bool
	failedAt  frontier.Time
	discarded bool // shut down: capabilities dropped, goroutines stopped
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
	// The copies of this operator on the workers of this process share
	// their fetch goroutines, and know of each other so that a Halt, or an
	// abort, stops them all. The operator's index (the same on every
	// worker) tells apart two sources of one name.
	key := fmt.Sprintf("shardsource(%s)@%d", name, b.Index())
	pool := dataflow.Shared(s, key+".fetch", func() *encodedPool {
		return newFetchPool[frontier.Time, Desc](func(e *persist.EncodedPart) { e.Release() })
	})
	inst.haltFetch = pool.halt
	inst.peers = dataflow.Shared(s, key+".peers", func() *peers { return &peers{} })
	inst.peers.add(inst)
	b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
		// Capabilities are minted per time from the descs that arrive.
		caps[0].Drop()
		caps[1].Drop()
		op := &fetchOp[K, V]{inst: inst, in: in, out: out, inflight: newInflight[frontier.Time, timeCap](), parts: funcs}
		op.start = func() *fetcher[frontier.Time, Desc, *persist.EncodedPart] {
			f := pool.join(concurrency, buffer, funcs.fetch, activator.Activate)
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

// run hands new descs to the fetcher and emits the parts that are back,
// decoding them.
func (op *fetchOp[K, V]) run() {
	op.in.ForEach(func(ref dataflow.CapabilityRef[frontier.Time], descs []Desc) {
		t := ref.Time()
		for _, d := range descs {
			op.inflight.add(t, func() (timeCap, timeCap) { return ref.DelayedFor(0, t), ref.DelayedFor(1, t) })
			if op.frozen && t >= op.failedAt {
				continue // held, never fetched: the source is frozen here
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
		if op.frozen && r.time >= op.failedAt {
			// Its time keeps its capabilities: neither emitted nor
			// completed, whatever the result.
			if r.err == nil {
				r.value.Release()
			}
			continue
		}
		if r.err != nil {
			op.freeze(r.time, r.err)
			continue
		}
		p, err := op.parts.decode(r.value)
		if err != nil {
			op.freeze(r.time, err)
			continue
		}
		op.emit(r.time, p)
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

// freeze records a failed fetch at t: the capabilities of t (and of every
// later time) are kept from now on, so the output frontier never passes t.
// Queued fetches at or after t are dropped; they could not be emitted.
func (op *fetchOp[K, V]) freeze(t frontier.Time, err error) {
	if !op.frozen || t < op.failedAt {
		op.frozen, op.failedAt = true, t
		op.fetcher.discardQueued(func(qt frontier.Time) bool { return qt >= t })
	}
	op.inst.report("fetch", err)
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
