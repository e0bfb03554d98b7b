package dataflowtest

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/shardflow/shardflow/dataflow"
)

// Cluster is several workers stepped deterministically on one goroutine,
// their messages queued in a QueueFabric and delivered in an order drawn
// from a seeded random source. Tests report the seed when they fail, so a
// failure replays exactly.
type Cluster struct {
	Workers []*dataflow.Worker
	Fabric  *QueueFabric
	Rand    *rand.Rand
	Seed    uint64
}

// NewCluster returns n workers whose delivery order is drawn from seed.
func NewCluster(n int, seed uint64) *Cluster {
	f := NewQueueFabric(n)
	return &Cluster{
		Workers: dataflow.NewWorkers(dataflow.Config{Workers: n, Fabric: f}),
		Fabric:  f,
		Rand:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		Seed:    seed,
	}
}

// Build calls build on every worker, in worker order.
func (c *Cluster) Build(build func(w *dataflow.Worker)) {
	for _, w := range c.Workers {
		build(w)
	}
}

// Running reports whether any worker has a dataflow running.
func (c *Cluster) Running() bool {
	for _, w := range c.Workers {
		if w.Running() > 0 {
			return true
		}
	}
	return false
}

// StepAll steps every worker once, in worker order, delivering nothing. It
// reports whether any dataflow is still running.
func (c *Cluster) StepAll() bool {
	running := false
	for _, w := range c.Workers {
		running = w.Step() || running
	}
	return running
}

// Tick does one random thing: step a random worker or deliver a random
// envelope. It reports whether anything is left to do: a running dataflow
// or an envelope in flight.
func (c *Cluster) Tick() bool {
	if c.Fabric.InFlight() > 0 && c.Rand.IntN(2) == 0 {
		c.Fabric.DeliverOne(c.Rand)
	} else {
		c.Workers[c.Rand.IntN(len(c.Workers))].Step()
	}
	return c.Running() || c.Fabric.InFlight() > 0
}

// ErrNotDone is returned by Run when the dataflows did not complete within
// the allowed number of ticks.
var ErrNotDone = errors.New("dataflowtest: dataflows did not complete")

// Run ticks until every dataflow on every worker has completed and nothing
// is in flight, or maxTicks pass (then it returns an error wrapping
// ErrNotDone that names the seed).
func (c *Cluster) Run(maxTicks int) error {
	return c.RunUntil(func() bool { return !c.Running() && c.Fabric.InFlight() == 0 }, maxTicks)
}

// RunUntil ticks until cond holds or maxTicks pass.
func (c *Cluster) RunUntil(cond func() bool, maxTicks int) error {
	for range maxTicks {
		if cond() {
			return nil
		}
		c.Tick()
	}
	if cond() {
		return nil
	}
	return fmt.Errorf("%w after %d ticks (seed %d)", ErrNotDone, maxTicks, c.Seed)
}

// Settle delivers everything in flight and steps every worker, repeatedly,
// until no envelope is in flight and no worker has an activated operator.
// It reports an error if that does not happen within maxRounds.
func (c *Cluster) Settle(maxRounds int) error {
	for range maxRounds {
		c.Fabric.DeliverAll(c.Rand)
		c.StepAll()
		idle := c.Fabric.InFlight() == 0
		for _, w := range c.Workers {
			idle = idle && w.Idle()
		}
		if idle {
			return nil
		}
	}
	return fmt.Errorf("dataflowtest: no quiescence after %d rounds (seed %d)", maxRounds, c.Seed)
}

// Close closes every worker, returning their errors joined (leaked
// capabilities, incomplete dataflows).
func (c *Cluster) Close() error {
	var errs []error
	for _, w := range c.Workers {
		errs = append(errs, w.Close())
	}
	return errors.Join(errs...)
}
