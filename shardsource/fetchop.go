package shardsource

import (
	"context"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

type capPair = *dataflow.Capability[frontier.Time]

// fetchOp is the state of the fetch operator on one worker.
type fetchOp[K, V any] struct {
	inst      *instance
	in        *dataflow.InPort[frontier.Time, Desc]
	out       *dataflow.OutPort[frontier.Time, *Part[K, V]]
	inflight  *inflight[frontier.Time, capPair]
	fetcher   *fetcher[frontier.Time, Desc, *Part[K, V]]
	start     func() *fetcher[frontier.Time, Desc, *Part[K, V]]
	frozen    bool
	discarded bool // shut down: capabilities dropped, goroutines stopped
}

// buildFetch builds the fetch operator. Its outputs are the fetched parts
// and the completed-fetches stream, which carries no records: only its
// frontier matters, the least time with a fetch still outstanding.
func buildFetch[K, V any](descs *dataflow.Stream[frontier.Time, Desc], name string, inst *instance,
	fetch func(context.Context, Desc) (*Part[K, V], error), concurrency, buffer int,
) (*dataflow.Stream[frontier.Time, *Part[K, V]], *dataflow.Stream[frontier.Time, struct{}], *dataflow.ShutdownToken) {
	s := descs.Scope()
	b := dataflow.NewBuilder(s, "shard_source_fetch("+name+")")
	in := dataflow.AddInput(b, descs, dataflow.Exchange(func(d Desc) uint64 { return uint64(d.Worker) }))
	out, parts := dataflow.AddOutput[*Part[K, V]](b)
	_, completed := dataflow.AddOutput[struct{}](b)
	button, token := b.ShutdownButton()
	activator := b.SyncActivator()
	b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
		// Capabilities are minted per time from the descs that arrive.
		caps[0].Drop()
		caps[1].Drop()
		op := &fetchOp[K, V]{inst: inst, in: in, out: out, inflight: newInflight[frontier.Time, capPair]()}
		op.start = func() *fetcher[frontier.Time, Desc, *Part[K, V]] {
			f := startFetcher[frontier.Time, Desc, *Part[K, V]](concurrency, buffer, fetch, activator.Activate)
			inst.setFetcher(f.stop, f.settled)
			return f
		}
		return func() {
			switch button.Phase() {
			case dataflow.Running:
				if !op.frozen {
					op.run()
				}
			case dataflow.Holding:
				// Keep every capability, drain nothing.
			case dataflow.Draining:
				op.discard()
			}
		}
	})
	return parts, completed, token
}

// run hands new descs to the fetcher and emits the results that are back.
func (op *fetchOp[K, V]) run() {
	op.in.ForEach(func(ref dataflow.CapabilityRef[frontier.Time], descs []Desc) {
		t := ref.Time()
		if op.fetcher == nil {
			op.fetcher = op.start()
		}
		for _, d := range descs {
			op.inflight.add(t, func() (capPair, capPair) { return ref.DelayedFor(0, t), ref.DelayedFor(1, t) })
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
		if r.err != nil {
			// Freeze: the failed part's time keeps its capabilities, and
			// nothing more is drained, so no later result can move the
			// frontier past it.
			op.frozen = true
			op.inst.report("fetch", r.err)
			return
		}
		op.out.Session(op.inflight.data(r.time)).Give(r.value)
		if data, completed, last := op.inflight.complete(r.time); last {
			data.Drop()
			completed.Drop()
		}
	}
	if op.inflight.total() == 0 && op.in.Frontier().IsEmpty() {
		// Nothing more can arrive: let the goroutines go.
		op.inst.stopFetcher()
	}
}

// discard is the second phase of shutdown: stop the goroutines (no fetch is
// in flight once it returns, so the reader may then be expired), drop every
// capability, and discard whatever still arrives.
func (op *fetchOp[K, V]) discard() {
	if !op.discarded {
		op.discarded = true
		op.inst.stopFetcher()
		op.inflight.drain(func(_ frontier.Time, data, completed capPair) {
			data.Drop()
			completed.Drop()
		})
	}
	op.in.ForEach(func(dataflow.CapabilityRef[frontier.Time], []Desc) {})
}
