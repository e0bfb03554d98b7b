package operators

import (
	"iter"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// Map applies f to every record of s. When D and E are the same type the
// runtime's batch is rewritten in place and forwarded, so Map allocates
// nothing per record or per batch; otherwise it allocates one output slice
// per batch.
func Map[T frontier.Timestamp[T], D, E any](s *dataflow.Stream[T, D], f func(D) E) *dataflow.Stream[T, E] {
	// When D == E, f is a func(E) E and every batch can be rewritten in
	// place.
	if g, inPlace := any(f).(func(E) E); inPlace {
		return batchOp(s, "Map", func(_ T, data []D) []E {
			same := any(data).([]E)
			for i := range same {
				same[i] = g(same[i])
			}
			return same
		})
	}
	return batchOp(s, "Map", func(_ T, data []D) []E {
		res := make([]E, len(data))
		for i := range data {
			res[i] = f(data[i])
		}
		return res
	})
}

// Filter keeps the records of s for which keep returns true. Batches are
// compacted in place: no allocation.
func Filter[T frontier.Timestamp[T], D any](s *dataflow.Stream[T, D], keep func(D) bool) *dataflow.Stream[T, D] {
	return batchOp(s, "Filter", func(_ T, data []D) []D {
		kept := data[:0]
		for _, d := range data {
			if keep(d) {
				kept = append(kept, d)
			}
		}
		clear(data[len(kept):]) // release what the dropped records referenced
		return kept
	})
}

// batchOp adds an operator that replaces each batch of s by what apply
// returns for it (which may be the batch itself, rewritten), at the same
// time. apply runs once per batch, so the loop over the records is all the
// work per record.
func batchOp[T frontier.Timestamp[T], D, E any](s *dataflow.Stream[T, D], name string, apply func(T, []D) []E) *dataflow.Stream[T, E] {
	b := dataflow.NewBuilder(s.Scope(), name)
	in := dataflow.AddInput(b, s, dataflow.Pipeline[D]())
	out, stream := dataflow.AddOutput[E](b)
	b.SetNotify(0, false)
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		caps[0].Drop()
		return func() {
			for {
				ref, data, ok := in.Next()
				if !ok {
					return
				}
				out.SessionAt(ref).GiveBatch(apply(ref.Time(), data))
			}
		}
	})
	return stream
}

// FlatMap replaces every record d of s by the records of f(d), at the same
// time. Functions returning iter.Seq, like strings.FieldsSeq, fit directly;
// the iterator f returns is usually one allocation per record, and FlatMap
// adds none.
func FlatMap[T frontier.Timestamp[T], D, E any](s *dataflow.Stream[T, D], f func(D) iter.Seq[E]) *dataflow.Stream[T, E] {
	b := dataflow.NewBuilder(s.Scope(), "FlatMap")
	in := dataflow.AddInput(b, s, dataflow.Pipeline[D]())
	out, stream := dataflow.AddOutput[E](b)
	b.SetNotify(0, false)
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		caps[0].Drop()
		// One yield for every iterator: a range-over-func loop body would
		// be a closure allocated per record, since the iterator is unknown.
		var session dataflow.Session[T, E]
		yield := func(e E) bool {
			session.Give(e)
			return true
		}
		return func() {
			for {
				ref, data, ok := in.Next()
				if !ok {
					session = dataflow.Session[T, E]{}
					return
				}
				session = out.SessionAt(ref)
				for _, d := range data {
					f(d)(yield)
				}
			}
		}
	})
	return stream
}

// Inspect calls f with the time and value of every record of s, and passes
// the records on unchanged.
func Inspect[T frontier.Timestamp[T], D any](s *dataflow.Stream[T, D], f func(T, D)) *dataflow.Stream[T, D] {
	return batchOp(s, "Inspect", func(t T, data []D) []D {
		for _, d := range data {
			f(t, d)
		}
		return data
	})
}

// InspectBatch calls f with each batch of s and its time, and passes the
// batch on unchanged. f must not keep or modify the slice.
func InspectBatch[T frontier.Timestamp[T], D any](s *dataflow.Stream[T, D], f func(T, []D)) *dataflow.Stream[T, D] {
	return batchOp(s, "Inspect", func(t T, data []D) []D {
		f(t, data)
		return data
	})
}

// Concat merges streams into one, keeping each record's time. The streams
// must belong to the same dataflow; at least one is required.
func Concat[T frontier.Timestamp[T], D any](streams ...*dataflow.Stream[T, D]) *dataflow.Stream[T, D] {
	if len(streams) == 0 {
		panic("operators: Concat of no streams")
	}
	b := dataflow.NewBuilder(streams[0].Scope(), "Concat")
	ins := make([]*dataflow.InPort[T, D], len(streams))
	for i, s := range streams {
		ins[i] = dataflow.AddInput(b, s, dataflow.Pipeline[D]())
		b.SetNotify(i, false)
	}
	out, stream := dataflow.AddOutput[D](b)
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		caps[0].Drop()
		return func() {
			for _, in := range ins {
				forward(in, out)
			}
		}
	})
	return stream
}

// Exchange routes every record d of s to worker hash(d) % peers, keeping
// its time. Downstream operators then see, on each worker, all records
// with the hashes that worker owns.
func Exchange[T frontier.Timestamp[T], D any](s *dataflow.Stream[T, D], hash func(D) uint64) *dataflow.Stream[T, D] {
	b := dataflow.NewBuilder(s.Scope(), "Exchange")
	in := dataflow.AddInput(b, s, dataflow.Exchange(hash))
	out, stream := dataflow.AddOutput[D](b)
	b.SetNotify(0, false)
	b.Build(func(caps []*dataflow.Capability[T]) func() {
		caps[0].Drop()
		return func() { forward(in, out) }
	})
	return stream
}

// forward moves every queued batch of in to out unchanged.
func forward[T frontier.Timestamp[T], D any](in *dataflow.InPort[T, D], out *dataflow.OutPort[T, D]) {
	for {
		ref, data, ok := in.Next()
		if !ok {
			return
		}
		out.SessionAt(ref).GiveBatch(data)
	}
}

// Input adds an input to s: the returned handle sends records at its
// current time (Send, SendBatch), advances time (AdvanceTo) and, when
// closed, drops its capability so the stream can complete. It is used on
// the worker's goroutine.
func Input[D any, T frontier.Timestamp[T]](s *dataflow.Scope[T]) (*dataflow.InputHandle[T, D], *dataflow.Stream[T, D]) {
	return dataflow.NewInput[D](s)
}

// Probe attaches a new probe to s and returns it with s's records passed
// on. The probe tells driving code which times may still appear on s:
// LessThan(t), LessEqual(t), Frontier(), Done().
func Probe[T frontier.Timestamp[T], D any](s *dataflow.Stream[T, D]) (*dataflow.ProbeHandle[T], *dataflow.Stream[T, D]) {
	h := dataflow.NewProbeHandle[T]()
	return h, dataflow.ProbeWith(s, h)
}
