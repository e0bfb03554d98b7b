package dataflow_test

import "github.com/shardflow/shardflow/dataflow"

// sessionFor makes the session a stage sends a batch through.
type sessionFor func(*dataflow.OutPort[T, uint64], dataflow.CapabilityRef[T]) dataflow.Session[T, uint64]

// viaSession is the plain way: OutPort.Session with the CapabilityRef.
func viaSession(o *dataflow.OutPort[T, uint64], r dataflow.CapabilityRef[T]) dataflow.Session[T, uint64] {
	return o.Session(r)
}

// stage adds an operator that applies f to each batch of s in place (nil
// leaves it as it is) and passes the batch on, at its time, through the
// session session makes.
func stage(s *dataflow.Stream[T, uint64], name string, session sessionFor, f func([]uint64)) *dataflow.Stream[T, uint64] {
	b := dataflow.NewBuilder(s.Scope(), name)
	in := dataflow.AddInput(b, s, dataflow.Pipeline[uint64]())
	out, next := dataflow.AddOutput[uint64](b)
	b.SetNotify(0, false)
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		caps[0].Drop()
		return func() {
			for {
				ref, data, ok := in.Next()
				if !ok {
					return
				}
				if f != nil {
					f(data)
				}
				session(out, ref).GiveBatch(data)
			}
		}
	})
	return next
}

// collectBatches hands every batch of s to f, which owns it.
func collectBatches(s *dataflow.Stream[T, uint64], f func([]uint64)) {
	b := dataflow.NewBuilder(s.Scope(), "collect")
	in := dataflow.AddInput(b, s, dataflow.Pipeline[uint64]())
	b.SetNotify(0, false)
	b.Build(func([]*dataflow.Capability[T]) func() {
		return func() {
			in.ForEach(func(_ dataflow.CapabilityRef[T], data []uint64) { f(data) })
		}
	})
}
