package shardsource

// assigner picks the worker that fetches each part: the one with the fewest
// bytes assigned so far. Round-robin would send every large part of a shard
// whose parts alternate large, small to the same half of the workers; greedy
// least-loaded keeps the spread between the most and the least loaded worker
// within the size of the largest part.
//
// Ties (all workers equally loaded, say at the start) are broken by a
// rotating start index, so equal-sized parts go round-robin. Loads only grow:
// the chosen worker does not learn when a fetch elsewhere finishes, and
// lifetime bytes are what evens out the work.
type assigner struct {
	load []uint64 // bytes assigned to each worker so far
	next int      // where the next tie-breaking scan starts
}

func newAssigner(workers int) *assigner {
	if workers <= 0 {
		panic("shardsource: assigner needs at least one worker")
	}
	return &assigner{load: make([]uint64, workers)}
}

// assign returns the worker for a part of size bytes and charges it. A part
// of size zero is charged one byte, so that empty parts spread too.
func (a *assigner) assign(size uint64) int {
	n := len(a.load)
	best := a.next
	for i := 1; i < n; i++ {
		w := (a.next + i) % n
		if a.load[w] < a.load[best] {
			best = w
		}
	}
	a.load[best] += max(size, 1)
	a.next = (best + 1) % n
	return best
}
