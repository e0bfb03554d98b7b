// Package dataflowtest runs several dataflow workers deterministically on
// one goroutine.
//
// A Cluster's workers share a QueueFabric that delivers nothing on its own:
// every data, progress and control envelope waits until the test delivers
// it, one at a time, in an order drawn from a seeded random source.
// Progress and control envelopes keep their per-sender order; data may
// overtake them. Stepping workers and delivering envelopes in random
// interleavings explores the orders a real multi-worker run could produce,
// and the seed replays any one of them.
//
//	c := dataflowtest.NewCluster(2, seed)
//	c.Build(func(w *dataflow.Worker) { dataflow.Dataflow(w, "df", build) })
//	if err := c.Run(10000); err != nil { t.Fatalf("seed %d: %v", seed, err) }
//	if err := c.Close(); err != nil { t.Fatal(err) } // leaked capabilities
package dataflowtest
