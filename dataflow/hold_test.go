package dataflow_test

import (
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
)

// The pressed worker holds nothing but receives data: a producer on worker
// 0 sends records at times 0..4, exchanged to a relay on both workers, then
// finishes on its own. Only worker 1 presses the relay's button; its
// instance stops draining, so the frontier after the relay must stay at or
// before the first record it has not forwarded, never empty, until worker
// 0 presses too.
func TestHoldingReceiverKeepsFrontier(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		c := dataflowtest.NewCluster(2, seed)
		var tokens []*dataflow.ShutdownToken
		var probes []*dataflow.ProbeHandle[T]
		forwarded := make([]map[int]bool, 2)
		c.Build(func(w *dataflow.Worker) {
			probe := dataflow.NewProbeHandle[T]()
			fwd := map[int]bool{}
			forwarded[w.Index()] = fwd
			dataflow.Dataflow(w, "hold", func(s *dataflow.Scope[T]) {
				pb := dataflow.NewBuilder(s, "producer")
				pout, produced := dataflow.AddOutput[int](pb)
				pb.Build(func(caps []*dataflow.Capability[T]) func() {
					if w.Index() == 0 {
						for i := range 10 {
							c := caps[0].Delayed(T(i / 2))
							pout.Session(c).Give(i)
							c.Drop()
						}
					}
					caps[0].Drop()
					return nil
				})
				rb := dataflow.NewBuilder(s, "relay")
				in := dataflow.AddInput(rb, produced, dataflow.Exchange(func(d int) uint64 { return uint64(d) }))
				rout, relayed := dataflow.AddOutput[int](rb)
				button, token := rb.ShutdownButton()
				tokens = append(tokens, token)
				rb.Build(func(caps []*dataflow.Capability[T]) func() {
					caps[0].Drop()
					return func() {
						switch button.Phase() {
						case dataflow.Running:
							in.ForEach(func(ref dataflow.CapabilityRef[T], data []int) {
								for _, d := range data {
									fwd[d] = true
								}
								rout.Session(ref).GiveBatch(data)
							})
						case dataflow.Holding:
						case dataflow.Draining:
							in.ForEach(func(dataflow.CapabilityRef[T], []int) {})
						}
					}
				})
				dataflow.ProbeWith(relayed, probe)
			})
			probes = append(probes, probe)
		})
		tokens[1].Press()
		for tick := range 3000 {
			c.Tick()
			// Every odd record goes to worker 1; one it has not forwarded
			// is held there, and no probe may pass its time.
			for i := 1; i < 10; i += 2 {
				if forwarded[1][i] {
					continue // forwarded before the press took effect
				}
				for wi, p := range probes {
					if !p.LessEqual(T(i / 2)) {
						t.Fatalf("seed %d tick %d: worker %d probe %v passed record %d held on worker 1", seed, tick, wi, p.Frontier(), i)
					}
				}
			}
		}
		if probes[0].Done() || probes[1].Done() {
			t.Fatalf("seed %d: frontier empty with only worker 1 pressed", seed)
		}
		tokens[0].Press()
		if err := c.Run(100000); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}
