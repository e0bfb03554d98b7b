// Package dataflow is a timely-style dataflow runtime: workers that step
// operators, typed streams between them, capabilities, and progress tracking
// that tells every operator which times may still arrive at its inputs.
//
// # Workers and the step loop
//
// A Worker is owned by one goroutine and nothing inside it is locked.
// Execute starts Config.Workers workers on their own goroutines; NewWorker
// gives a single worker stepped by the caller. Build dataflows with
// Dataflow (every worker must build the same ones in the same order), then
// step:
//
//	w := dataflow.NewWorker()
//	dataflow.Dataflow(w, "example", func(s *dataflow.Scope[frontier.Time]) { ... })
//	for w.Step() { }              // until every dataflow completes
//
// Step receives messages from peers and activations from other goroutines,
// delivers frontier changes, runs each activated operator once, and reports
// this worker's progress as one atomic batch. Operators that were not
// activated are not touched: an idle operator costs nothing. StepOrPark(d)
// parks the worker first when it is Idle (nothing activated, no progress
// left to report), until a peer's message, a SyncActivator, or d.
//
// # Operators
//
// An operator is a plain value built with a Builder: AddInput (with a Pact:
// Pipeline, or Exchange by a hash), AddOutput, SetConnection to disconnect
// an input from an output (a disconnected input holds back nothing
// downstream), SetNotify to choose whether frontier changes schedule it,
// then Build with a constructor that receives the initial capabilities and
// returns the logic:
//
//	b := dataflow.NewBuilder(s, "double")
//	in := dataflow.AddInput(b, stream, dataflow.Pipeline[int]())
//	out, doubled := dataflow.AddOutput[int](b)
//	b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
//		caps[0].Drop() // this operator only sends at the times it receives
//		return func() {
//			in.ForEach(func(ref dataflow.CapabilityRef[frontier.Time], data []int) {
//				for i := range data {
//					data[i] *= 2
//				}
//				out.Session(ref).GiveBatch(data)
//			})
//		}
//	})
//
// Data moves in batches: a Message is a time and a slice of records. The
// slice handed to ForEach (or returned by Next) becomes the operator's: it
// may modify it in place and pass it on with Session.GiveBatch, which takes
// ownership without copying. Give buffers records and sends them in batches
// of BatchSize. Sends made while a dataflow is being built are held until
// its graph is complete. OutPort.SessionAt(ref) is Session for a
// CapabilityRef without the Cap interface; neither allocates, so passing a
// batch on costs no allocation.
//
// The logic runs when data arrives, when a notifying input's frontier
// changes, and when an Activator or SyncActivator fires. Feedback creates a
// loop variable whose Connect is called once the stream that feeds it
// exists; every cycle must pass through a feedback edge (whose Summary
// strictly advances time) or through a disconnected input, or Dataflow
// refuses the graph.
//
// Every worker must build the same dataflows, with the same operators, in
// the same order: operators are identified across workers by their index.
// A ProbeHandle (ProbeWith) shows driving code the frontier of a stream;
// InputHandle (NewInput) feeds records from driving code.
//
// # Capabilities
//
// An operator may send at time t on an output only while it holds a
// Capability for that output at or before t, or while it reads a message at
// t from an input connected to that output (its CapabilityRef). It starts
// with one capability per output at the minimum time. The rules:
//
//   - Delayed(t) mints a new capability at t from one at or before t;
//     TryDelayed reports instead of panicking.
//   - Downgrade(t) moves a capability forward; never back.
//   - Drop gives it up, explicitly: Go has no destructors, and a capability
//     that is never dropped holds back every frontier downstream forever.
//     Worker.LiveCapabilities and Close list the ones still held, with the
//     operator that holds them.
//   - A CapabilitySet follows a frontier with a set of capabilities (of one
//     output).
//   - A Session is only as good as what permitted it: giving on it after
//     its capability was downgraded or dropped, or after its
//     CapabilityRef expired (the next message was read from its input, or
//     the operator's logic returned), panics (ErrSessionExpired).
//     Dropping or downgrading a capability first sends what its output
//     buffered, so records are never counted after the retraction.
//
// Everything an invocation does — messages consumed, messages produced,
// capabilities minted, downgraded and dropped — is reported as one atomic
// batch. A reachability tracker turns those counts into input frontiers.
// With several workers, each worker broadcasts its batches to all peers in
// order (per-sender FIFO); a worker's view of the counts may be transiently
// negative, yet its frontiers are never ahead of the truth, because a
// sender's capability is retracted in the same batch that announces the
// messages it sent.
//
// # Shutdown
//
// A dataflow completes, and is removed from its worker, once no operator
// holds a capability and no message is in flight. A program asks an
// operator to stop through a ShutdownToken (Builder.ShutdownButton): the
// press is broadcast to every worker. The order is:
//
//  1. The program presses (or drops) the token on one or more workers.
//  2. An operator that sees only a local press (Button.LocalPressed) keeps
//     every capability and stops draining its inputs, so that no frontier
//     moves on the strength of one worker's decision.
//  3. When every worker has pressed (Button.AllPressed), each instance
//     drops its capabilities and discards what still arrives until its
//     input frontiers are empty; the dataflow then completes.
//
// Execute returns once every worker's dataflows have completed. A leaked
// capability keeps a dataflow open forever; Worker.Close reports the ones
// still held, and Config.IdleTimeout makes Execute give up on a stalled
// worker with ErrStalled and a *LeakError naming them.
//
// # Workers and fabrics
//
// Workers exchange data, progress and button presses through a Fabric.
// Execute uses an in-process one (NewChannelFabric); package dataflowtest
// substitutes one that queues every envelope until a test delivers it, in
// a seeded random order, with several workers stepped on one goroutine.
package dataflow
