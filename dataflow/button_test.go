package dataflow_test

import (
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/frontier"
)

// buttonProducer holds, on worker 0 only, a capability at time 1, and
// follows the two-phase shutdown rules.
type buttonProducer struct {
	button   *dataflow.Button
	token    *dataflow.ShutdownToken
	consumer *dataflow.InPort[T, int]
	scope    *dataflow.Scope[T]
}

func buildButtonDataflow(w *dataflow.Worker) *buttonProducer {
	bp := &buttonProducer{}
	dataflow.Dataflow(w, "button", func(s *dataflow.Scope[T]) {
		bp.scope = s
		b := dataflow.NewBuilder(s, "producer")
		out, stream := dataflow.AddOutput[int](b)
		button, token := b.ShutdownButton()
		bp.button, bp.token = button, token
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			held := dataflow.NewCapabilitySet(caps...)
			if w.Index() == 0 {
				out.Session(caps[0]).Give(0)
				caps[0].Downgrade(1)
			} else {
				held.Drop()
			}
			return func() {
				switch button.Phase() {
				case dataflow.Draining:
					held.Drop()
				case dataflow.Holding:
					// Keep every capability: a peer has not agreed yet.
				case dataflow.Running:
					if c, ok := held.Get(1); ok {
						out.Session(c).Give(1)
					}
				}
			}
		})
		cb := dataflow.NewBuilder(s, "consumer")
		bp.consumer = dataflow.AddInput(cb, stream, dataflow.Exchange(func(d int) uint64 { return uint64(d) }))
		cb.Build(func([]*dataflow.Capability[T]) func() {
			return func() { bp.consumer.ForEach(func(dataflow.CapabilityRef[T], []int) {}) }
		})
	})
	return bp
}

// A local press alone must never let the consumer's frontier pass the time
// worker 0's producer still holds; once every worker has pressed, the
// dataflow completes.
func TestShutdownButtonLocalPressHoldsFrontier(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		c := dataflowtest.NewCluster(2, seed)
		var bps []*buttonProducer
		c.Build(func(w *dataflow.Worker) { bps = append(bps, buildButtonDataflow(w)) })
		bps[0].token.Drop() // only worker 0 presses
		for tick := range 2000 {
			c.Tick()
			for wi, bp := range bps {
				f := bp.consumer.Frontier()
				if !f.LessEqual(1) {
					t.Fatalf("seed %d tick %d: worker %d consumer frontier %v passed [1] after a local press", seed, tick, wi, f)
				}
			}
		}
		if !c.Running() {
			t.Fatalf("seed %d: dataflow completed after a local press only", seed)
		}
		bps[1].token.Press()
		if err := c.Run(10000); err != nil {
			t.Fatal(err)
		}
		for wi, bp := range bps {
			if f := bp.consumer.Frontier(); !f.IsEmpty() {
				t.Fatalf("seed %d: worker %d consumer frontier %v after all pressed", seed, wi, f)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func TestLeakedCapabilityListed(t *testing.T) {
	w := dataflow.NewWorker()
	dataflow.Dataflow(w, "leaky", func(s *dataflow.Scope[T]) {
		b := dataflow.NewBuilder(s, "holder")
		dataflow.AddOutput[int](b)
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			caps[0].Downgrade(7) // and never dropped
			return nil
		})
	})
	for range 10 {
		w.Step()
	}
	live := w.LiveCapabilities()
	if len(live) != 1 || live[0].Operator != "holder" || live[0].Time != frontier.Time(7) {
		t.Fatalf("live capabilities %v, want holder at 7", live)
	}
	err := w.Close()
	var leak *dataflow.LeakError
	if !errorsAs(err, &leak) || len(leak.Capabilities) != 1 {
		t.Fatalf("Close = %v, want a LeakError", err)
	}
	if !errorsIs(err, dataflow.ErrLeakedCapabilities) || !errorsIs(err, dataflow.ErrIncomplete) {
		t.Fatalf("Close = %v, want ErrLeakedCapabilities and ErrIncomplete", err)
	}
}

// Under Execute, a leaked capability keeps the dataflow open; with an idle
// timeout the worker gives up and names the capability.
func TestExecuteReportsLeakOnStall(t *testing.T) {
	err := dataflow.Execute(dataflow.Config{Workers: 2, IdleTimeout: 50 * time.Millisecond}, func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "leaky", func(s *dataflow.Scope[T]) {
			b := dataflow.NewBuilder(s, "holder")
			dataflow.AddOutput[int](b)
			b.Build(func(caps []*dataflow.Capability[T]) func() {
				if w.Index() == 1 {
					caps[0].Downgrade(4) // never dropped
				} else {
					caps[0].Drop()
				}
				return nil
			})
		})
	})
	var leak *dataflow.LeakError
	if !errorsIs(err, dataflow.ErrStalled) || !errorsAs(err, &leak) {
		t.Fatalf("Execute = %v, want a stall with a leak", err)
	}
	if len(leak.Capabilities) != 1 || leak.Capabilities[0].Worker != 1 || leak.Capabilities[0].Time != T(4) {
		t.Fatalf("leaks %v, want holder at 4 on worker 1", leak.Capabilities)
	}
}
