package shardsourcetest

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/shardsource"
)

// ErrNotQuiescent is returned (wrapped, with the seed) when a cluster does
// not quiesce before the deadline.
var ErrNotQuiescent = errors.New("shardsourcetest: no quiescence")

// Quiescent reports whether the cluster can do nothing more without outside
// input. The sources are checked first: once a source reports settled, the
// activation of its last delivery is already visible to its worker.
func Quiescent(c *dataflowtest.Cluster, sources []*shardsource.Tokens) bool {
	for _, s := range sources {
		if !s.Settled() {
			return false
		}
	}
	if c.Fabric.InFlight() > 0 {
		return false
	}
	for _, w := range c.Workers {
		if !w.Idle() {
			return false
		}
	}
	return true
}

// Quiesce delivers every message and steps every worker until Quiescent
// holds, yielding between rounds so the sources' goroutines run. It gives up
// after timeout with an error wrapping ErrNotQuiescent that names the
// cluster's seed.
func Quiesce(c *dataflowtest.Cluster, sources []*shardsource.Tokens, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c.Fabric.DeliverAll(c.Rand)
		c.StepAll()
		if Quiescent(c, sources) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v (seed %d)", ErrNotQuiescent, timeout, c.Seed)
		}
		runtime.Gosched()
	}
}
