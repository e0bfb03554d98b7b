package dataflow_test

import (
	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
)

// truth recomputes every input frontier from the pointstamps that exist,
// without counts: the minimal times that can reach each input.
func truth(spec propSpec, pts []dataflow.PointstampForTest[T]) map[port]frontier.Antichain[T] {
	consumers := map[port][]port{}
	for i, op := range spec.ops {
		for k, in := range op.inputs {
			consumers[in.from] = append(consumers[in.from], port{i, k})
		}
	}
	for k, from := range spec.loops {
		consumers[from] = append(consumers[from], port{k, 0})
	}
	type at struct {
		p   port
		src bool
	}
	anti := map[at]*frontier.Antichain[T]{}
	type item struct {
		l at
		t T
	}
	var work []item
	add := func(l at, t T) {
		a := anti[l]
		if a == nil {
			a = &frontier.Antichain[T]{}
			anti[l] = a
		}
		if a.Insert(t) {
			work = append(work, item{l, t})
		}
	}
	for _, p := range pts {
		add(at{port{p.Op, p.Port}, p.Source}, p.Time)
	}
	for len(work) > 0 {
		it := work[len(work)-1]
		work = work[:len(work)-1]
		if it.l.src {
			for _, c := range consumers[it.l.p] {
				add(at{c, false}, it.t)
			}
			continue
		}
		op := spec.ops[it.l.p.op]
		if op.feedback {
			add(at{port{it.l.p.op, 0}, true}, it.t+op.delta)
			continue
		}
		for o := range op.outputs {
			if !op.disconnected[it.l.p.port][o] {
				add(at{port{it.l.p.op, o}, true}, it.t)
			}
		}
	}
	out := map[port]frontier.Antichain[T]{}
	for l, a := range anti {
		if !l.src {
			out[l.p] = *a
		}
	}
	return out
}
