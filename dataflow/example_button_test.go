package dataflow_test

import (
	"fmt"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/frontier"
)

// The two-phase shutdown button on two workers (stepped on one goroutine by
// dataflowtest). A press on worker 0 alone leaves every capability held:
// worker 1's instance might still produce, so no frontier may move. Once
// worker 1 presses too, both instances drop their capabilities and the
// dataflow completes.
func ExampleButton() {
	c := dataflowtest.NewCluster(2, 1)
	var tokens []*dataflow.ShutdownToken
	var buttons []*dataflow.Button
	c.Build(func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "source", func(s *dataflow.Scope[frontier.Time]) {
			b := dataflow.NewBuilder(s, "source")
			dataflow.AddOutput[int](b)
			button, token := b.ShutdownButton()
			tokens, buttons = append(tokens, token), append(buttons, button)
			b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
				held := dataflow.NewCapabilitySet(caps...)
				return func() {
					switch button.Phase() {
					case dataflow.Running:
						// Produce, downgrading held as time passes.
					case dataflow.Holding:
						// Pressed here, not yet everywhere: keep every
						// capability and stop draining inputs.
					case dataflow.Draining:
						held.Drop()
					}
				}
			})
		})
	})
	tokens[0].Press()
	if err := c.Settle(100); err != nil {
		panic(err)
	}
	fmt.Println(buttons[0].Phase(), buttons[1].Phase(), len(c.Workers[0].LiveCapabilities()), c.Running())
	tokens[1].Press()
	if err := c.Run(1000); err != nil {
		panic(err)
	}
	fmt.Println(buttons[0].Phase(), buttons[1].Phase(), len(c.Workers[0].LiveCapabilities()), c.Running())
	fmt.Println(c.Close())
	// Output:
	// holding running 1 true
	// draining draining 0 false
	// <nil>
}
