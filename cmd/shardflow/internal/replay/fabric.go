package replay

import (
	"sync/atomic"

	"github.com/shardflow/shardflow/dataflow"
)

// countingFabric counts the envelopes sent between workers and not yet
// received, so that Run can tell a quiescent dataflow from one with messages
// still in flight.
type countingFabric struct {
	dataflow.Fabric
	inflight atomic.Int64
	// receiving, if set, is called with the index of a worker that has
	// received envelopes, before they stop counting as in flight: the
	// worker handles them in the step it is in, and must not look idle
	// until that step is over.
	receiving func(w int)
}

func (f *countingFabric) Send(e dataflow.Envelope) {
	f.inflight.Add(1)
	f.Fabric.Send(e)
}

func (f *countingFabric) Receive(w int, buf []dataflow.Envelope) []dataflow.Envelope {
	n := len(buf)
	buf = f.Fabric.Receive(w, buf)
	if k := len(buf) - n; k > 0 {
		if f.receiving != nil {
			f.receiving(w)
		}
		f.inflight.Add(-int64(k))
	}
	return buf
}
