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
}

func (f *countingFabric) Send(e dataflow.Envelope) {
	f.inflight.Add(1)
	f.Fabric.Send(e)
}

func (f *countingFabric) Receive(w int, buf []dataflow.Envelope) []dataflow.Envelope {
	n := len(buf)
	buf = f.Fabric.Receive(w, buf)
	f.inflight.Add(-int64(len(buf) - n))
	return buf
}
