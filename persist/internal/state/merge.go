package state

import "math/bits"

// Bytes returns the encoded bytes of the batch's parts.
func (b Batch) Bytes() int64 {
	var n int64
	for _, p := range b.Parts {
		n += p.Bytes
	}
	return n
}

// mergeable reports whether this code can rewrite b into a merged batch
// without losing anything: every part's format is known and nothing carries
// fields written by newer code.
func (b Batch) mergeable() bool {
	if b.HasUnknown() {
		return false
	}
	for _, p := range b.Parts {
		if !p.Format.Known() {
			return false
		}
	}
	return true
}

// sizeLevel groups batches by size: level 0 up to 4 KiB (every inline part,
// every empty batch), then one level per factor of 4.
func sizeLevel(bytes int64) int {
	return (bits.Len64(uint64(max(bytes, 0))>>12) + 1) / 2
}

// MergeRun picks the batches a writer should merge into one after an
// append, keeping the number of batches logarithmic in the shard's size
// however small its appends: the newest run of at least fanIn consecutive
// mergeable batches of the same size level whose parts hold at most
// maxBytes together. It returns the run as s.Batches[first:end]; ok is
// false when no run qualifies.
//
// Merging fanIn batches of one level makes a batch of a higher level, so
// each level holds fewer than fanIn batches between merges and every row is
// rewritten about once per level: log4 of the shard's size in 4 KiB units.
func (s State) MergeRun(fanIn int, maxBytes int64) (first, end int, ok bool) {
	if fanIn < 2 {
		return 0, 0, false
	}
	end = len(s.Batches)
	for end > 0 {
		last := s.Batches[end-1]
		if !last.mergeable() {
			end--
			continue
		}
		level, total := sizeLevel(last.Bytes()), last.Bytes()
		first = end - 1
		for first > 0 {
			b := s.Batches[first-1]
			if !b.mergeable() || sizeLevel(b.Bytes()) != level || total+b.Bytes() > maxBytes {
				break
			}
			total += b.Bytes()
			first--
		}
		if end-first >= fanIn {
			return first, end, true
		}
		end = first
	}
	return 0, 0, false
}
