package shardsource

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
)

// listenBuffer is the capacity of the channel from the listen goroutine.
const listenBuffer = 16

// descsOp is the state of the descs operator on the chosen worker.
type descsOp struct {
	inst *instance
	cap  *dataflow.Capability[frontier.Time] // nil once dropped
	// keepalive is held until the listen goroutine has stopped.
	keepalive *dataflow.Capability[frontier.Time]
	out       *dataflow.OutPort[frontier.Time, Desc]
	shard     Desc // template: Shard filled in
	leases    *lease.Manager[frontier.Time]
	events    chan listenEvent[listedPart]
	frozen    bool
	finished  bool // the listen goroutine sent its last progress
}

// buildDescs builds the descs operator. On the chosen worker it starts the
// listen goroutine (at its first run, so a dataflow that fails to build
// leaks nothing).
func buildDescs(s *dataflow.Scope[frontier.Time], name string, chosen int, completed *dataflow.Stream[frontier.Time, struct{}],
	inst *instance, cfg listenConfig[listedPart], template Desc) (*dataflow.Stream[frontier.Time, Desc], *dataflow.ShutdownToken) {
	b := dataflow.NewBuilder(s, "shard_source_descs("+name+")")
	fb := dataflow.AddInput(b, completed, dataflow.Pipeline[struct{}]())
	out, descs := dataflow.AddOutput[Desc](b)
	// The keepalive output has no reader. Its capability keeps the dataflow
	// from completing (and this operator from never running again) until
	// the operator has seen the completed-fetches frontier empty and
	// stopped the listen goroutine: without it the dataflow would complete
	// the moment the fetch operators drop their last capabilities, before
	// this operator could learn of it.
	_, _ = dataflow.AddOutput[struct{}](b)
	// The completed-fetches edge decides when leases and the reader may go;
	// it holds back nothing this operator emits (that would be a cycle).
	b.SetConnection(0, 0, false)
	b.SetConnection(0, 1, false)
	button, token := b.ShutdownButton()
	activator := b.SyncActivator()
	b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
		if s.Index() != chosen {
			// Only the chosen worker lists parts.
			caps[0].Drop()
			caps[1].Drop()
			return func() { fb.ForEach(func(dataflow.CapabilityRef[frontier.Time], []struct{}) {}) }
		}
		op := &descsOp{inst: inst, cap: caps[0], keepalive: caps[1], out: out, shard: template, leases: lease.NewManager[frontier.Time]()}
		return func() {
			if op.events == nil && button.Phase() == dataflow.Running {
				op.start(cfg, activator)
			}
			fb.ForEach(func(dataflow.CapabilityRef[frontier.Time], []struct{}) {})
			f := fb.Frontier()
			op.leases.AdvanceTo(f)
			switch button.Phase() {
			case dataflow.Running:
				if !op.frozen && !op.finished {
					op.drain()
				}
			case dataflow.Holding:
				// Keep the capability and drain nothing: another worker
				// may not have pressed yet.
			case dataflow.Draining:
				op.dropCap()
			}
			if f.IsEmpty() {
				// Every fetch of every part listed is done (or stopped):
				// the reader may go.
				op.stop()
			}
		}
	})
	return descs, token
}

// start starts the listen goroutine, unless the source was stopped
// already (another worker halted it before this operator first ran).
func (op *descsOp) start(cfg listenConfig[listedPart], activator *dataflow.SyncActivator) {
	op.events = make(chan listenEvent[listedPart], listenBuffer)
	l := &op.inst.listen
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.mu.started, l.mu.cancel, l.mu.done = true, cancel, done
	cfg.final = &l.final
	go func() {
		defer close(done)
		runListen(ctx, cfg, op.events, activator.Activate)
	}()
}

// stop stops the listen goroutine, which expires the reader, and releases
// every lease: those parked, and those in events never drained.
func (op *descsOp) stop() {
	op.inst.stopListen()
	if op.events != nil {
		for {
			select {
			case ev := <-op.events:
				releaseEvent[listedPart](ev)
				continue
			default:
			}
			break
		}
	}
	op.leases.AdvanceTo(frontier.Antichain[frontier.Time]{})
	op.dropCap()
	if op.keepalive != nil {
		op.keepalive.Drop()
		op.keepalive = nil
	}
}

func (op *descsOp) dropCap() {
	if op.cap != nil {
		op.cap.Drop()
		op.cap = nil
	}
}

// drain handles the events waiting in the channel, stopping at an error.
func (op *descsOp) drain() {
	for !op.frozen && !op.finished {
		var ev listenEvent[listedPart]
		select {
		case ev = <-op.events:
		default:
			return
		}
		switch ev := ev.(type) {
		case evAsOf:
			op.follow(ev.asOf)
		case evParts[listedPart]:
			op.emit(ev)
		case evProgress:
			op.follow(ev.frontier)
		case evError:
			op.frozen = true
			var at frontier.Time // where the capability, and so the frontier, stays
			if op.cap != nil {
				at = op.cap.Time()
			}
			op.inst.report("listen", at, ev.err)
		}
	}
}

// follow moves the capability to f, dropping it at the empty frontier.
func (op *descsOp) follow(f frontier.Antichain[frontier.Time]) {
	t, ok := f.Single()
	if !ok {
		op.dropCap()
		op.finished = true
		return
	}
	op.cap.Downgrade(t)
}

// emit parks the parts' leases and sends the parts, at the capability's
// time, which is the frontier the last progress announced. Parts at a time
// where the source froze are not sent, and their leases go at once: no
// fetch operator would fetch them.
func (op *descsOp) emit(ev evParts[listedPart]) {
	if op.cap == nil || op.cap.Time() != ev.ts {
		panic("shardsource: listen sent parts at a time the descs operator does not hold")
	}
	if ft, ok := op.inst.peers.frozenAt(); ok && ev.ts >= ft {
		releaseEvent[listedPart](ev)
		return
	}
	session := op.out.Session(op.cap)
	for _, a := range ev.parts {
		if a.lease != nil {
			if op.inst.onPark != nil {
				op.inst.onPark(ev.ts, a.lease)
			}
			// The feedback input's frontier is the completed-fetches
			// frontier itself (the edge keeps times): it passes ev.ts
			// once every fetch at ev.ts is done.
			op.leases.PushAt(ev.ts, a.lease)
		}
		d := op.shard
		d.Worker = a.worker
		d.Part = a.part.leased.Desc
		d.Filter = a.part.leased.Filter
		d.Replacement = a.part.replacement
		d.listed = ev.ts
		session.Give(d)
	}
}

// listenState is the chosen worker's handle on its listen goroutine. The
// worker starts it; any goroutine may stop it (a Halt on another worker).
type listenState struct {
	mu struct {
		sync.Mutex
		// started once the goroutine runs; closed once stopListen has
		// been called, after which none starts.
		started, closed bool
		cancel          context.CancelFunc
		done            chan struct{}
	}
	// final is set by the goroutine once it has sent its last event and
	// only waits to be stopped; stopped once it has returned.
	final, stopped atomic.Bool
}
