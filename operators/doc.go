// Package operators is the everyday operator library on top of package
// dataflow: stateless record operators, routing, probes, capture and
// replay, consolidation of update streams, and helpers for writing
// operators that look at input frontiers.
//
// Every function here adds operators to the dataflow of the stream it is
// given; each worker must call the same functions in the same order (see
// dataflow.Dataflow). Records move in batches (messages) that all share one
// time; operators keep each record's time unless they say otherwise.
//
// # Record operators
//
// Map, Filter, FlatMap, Inspect and InspectBatch transform or observe
// records on the worker that holds them. Map with the same input and output
// type and Filter rewrite each batch in place and pass it on: no allocation
// per record or per batch. Concat merges streams; Exchange routes each
// record to worker hash(record) % peers.
//
// # Driving a dataflow
//
// Input adds an input handle: Send and SendBatch at its current time,
// AdvanceTo promises that no earlier time follows, Close drops its
// capability so the stream can complete. Probe tells the driving code which
// times may still appear on a stream:
//
//	input.AdvanceTo(t + 1)
//	for probe.LessThan(t + 1) { w.Step() } // every record at t has passed
//
// # Capture and Replay
//
// Capture records a stream, per worker, as a sequence of Events: Messages
// (records at a time) and Progress (changes to the stream's frontier, from
// a start of one count at the minimum time to the empty frontier, always
// after the messages they account for) into an EventPusher. EventLink is a
// pusher that another goroutine may read, and an EventSource. Replay turns
// sources back into a stream, in the same or another dataflow: each worker
// replays its share of the sources, holding capabilities at the replayed
// frontier, and the replayed stream ends when every source's progress has
// reached the empty frontier.
//
// # Update streams
//
// An Update[D] says that the multiplicity of Data changes by Diff at the
// time of its message. Consolidate sums the diffs of equal data (compared
// with ==, so D is comparable) at equal times once the input frontier has
// passed the time, drops zero sums, and emits the rest at that time.
// Consolidation is per worker; ConsolidateExchange first routes equal data
// to one worker.
//
// # Writing operators
//
// Unary and Binary build an operator from a constructor that receives the
// initial capability and returns logic that sees the input ports (their
// batches and their frontiers) and the output port. UnaryNotify and
// BinaryNotify add a Notificator: the logic stores capabilities with
// NotifyAt and completes each time in ForEach, called once per time, in
// time order, after every input frontier has passed it.
//
//	counts := operators.UnaryNotify(s, dataflow.Pipeline[string](), "count",
//		func(in *dataflow.InPort[T, string], out *dataflow.OutPort[T, int], n *operators.Notificator[T]) {
//			in.ForEach(func(ref dataflow.CapabilityRef[T], data []string) {
//				perTime[ref.Time()] += len(data)
//				n.NotifyAt(ref.Retain())
//			})
//			n.ForEach(func(c *dataflow.Capability[T]) {
//				out.Session(c).Give(perTime[c.Time()])
//				delete(perTime, c.Time())
//			})
//		})
package operators
