package operators_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/operators"
)

// The notificator fires each requested time exactly once, only once the
// input frontier has passed it, in time order, however often the time was
// requested.
func TestNotificatorFiresOncePerTimeAfterFrontier(t *testing.T) {
	w := dataflow.NewWorker()
	var fired []string
	in := notifyDataflow(w, func(in *dataflow.InPort[T, int], n *operators.Notificator[T]) {
		in.ForEach(func(ref dataflow.CapabilityRef[T], data []int) {
			n.NotifyAt(ref.Retain())
			n.NotifyAt(ref.Retain()) // a duplicate request merges
		})
		n.ForEach(func(c *dataflow.Capability[T]) {
			if in.Frontier().LessEqual(c.Time()) {
				t.Errorf("fired at %d with the frontier at %v", c.Time(), in.Frontier())
			}
			fired = append(fired, fmt.Sprint(c.Time()))
		})
	})
	step := func(n int) {
		for range n {
			w.Step()
		}
	}
	in.AdvanceTo(1)
	in.Send(1)
	step(3)
	in.Send(1) // the same time again, in a later invocation
	step(3)
	if len(fired) != 0 {
		t.Fatalf("fired %v before the frontier passed 1", fired)
	}
	in.AdvanceTo(2)
	step(3)
	if !slices.Equal(fired, []string{"1"}) {
		t.Fatalf("after the frontier passed 1: fired %v", fired)
	}
	in.AdvanceTo(4)
	in.Send(4)
	in.AdvanceTo(5)
	in.Send(5)
	in.Send(5)
	step(3)
	if !slices.Equal(fired, []string{"1", "4"}) {
		t.Fatalf("with the frontier at 5: fired %v", fired)
	}
	in.Close()
	runSingle(t, w)
	if !slices.Equal(fired, []string{"1", "4", "5"}) {
		t.Fatalf("at the end: fired %v", fired)
	}
}

// BinaryNotify waits for both frontiers; ready times fire in time order
// even when requested out of order.
func TestBinaryNotifyWaitsForBothInputs(t *testing.T) {
	w := dataflow.NewWorker()
	var a, b *dataflow.InputHandle[T, int]
	var fired []T
	dataflow.Dataflow(w, "binary", func(s *dataflow.Scope[T]) {
		var sa, sb *dataflow.Stream[T, int]
		a, sa = operators.Input[int](s)
		b, sb = operators.Input[int](s)
		operators.BinaryNotify(sa, sb, dataflow.Pipeline[int](), dataflow.Pipeline[int](), "both",
			func(in1, in2 *dataflow.InPort[T, int], _ *dataflow.OutPort[T, int], n *operators.Notificator[T]) {
				for _, in := range []*dataflow.InPort[T, int]{in1, in2} {
					in.ForEach(func(ref dataflow.CapabilityRef[T], _ []int) { n.NotifyAt(ref.Retain()) })
				}
				n.ForEach(func(c *dataflow.Capability[T]) { fired = append(fired, c.Time()) })
			})
	})
	a.AdvanceTo(7)
	a.Send(0)
	b.AdvanceTo(3)
	b.Send(0)
	for range 5 {
		w.Step()
	}
	if len(fired) != 0 {
		t.Fatalf("fired %v while input b is at 3", fired)
	}
	b.AdvanceTo(8)
	for range 5 {
		w.Step()
	}
	if !slices.Equal(fired, []T{3}) {
		t.Fatalf("with the frontiers at 7 and 8: fired %v, want [3]", fired)
	}
	a.Close()
	b.Close()
	runSingle(t, w)
	if !slices.Equal(fired, []T{3, 7}) {
		t.Fatalf("at the end: fired %v, want [3 7]", fired)
	}
}

// A randomized check against a model: after the worker settles, the times
// fired are exactly the requested times both inputs have passed, each
// fired once, in increasing order.
func TestNotificatorModel(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 2))
		w := dataflow.NewWorker()
		var a, b *dataflow.InputHandle[T, int]
		var fired []T
		dataflow.Dataflow(w, "model", func(s *dataflow.Scope[T]) {
			var sa, sb *dataflow.Stream[T, int]
			a, sa = operators.Input[int](s)
			b, sb = operators.Input[int](s)
			operators.BinaryNotify(sa, sb, dataflow.Pipeline[int](), dataflow.Exchange(func(int) uint64 { return 0 }), "model",
				func(in1, in2 *dataflow.InPort[T, int], _ *dataflow.OutPort[T, int], n *operators.Notificator[T]) {
					for _, in := range []*dataflow.InPort[T, int]{in1, in2} {
						in.ForEach(func(ref dataflow.CapabilityRef[T], _ []int) { n.NotifyAt(ref.Retain()) })
					}
					n.ForEach(func(c *dataflow.Capability[T]) { fired = append(fired, c.Time()) })
				})
		})
		requested := map[T]bool{}
		inputs := []*dataflow.InputHandle[T, int]{a, b}
		for range 200 {
			in := inputs[rng.IntN(2)]
			if in.Closed() {
				continue
			}
			switch rng.IntN(10) {
			case 0:
				in.Close()
			case 1, 2, 3:
				in.AdvanceTo(in.Time() + T(rng.IntN(4)))
			default:
				in.Send(0)
				requested[in.Time()] = true
			}
			settle(t, w)
			limit := T(1 << 62)
			for _, in := range inputs {
				if !in.Closed() {
					limit = min(limit, in.Time())
				}
			}
			var want []T
			for tm := range requested {
				if tm < limit {
					want = append(want, tm)
				}
			}
			slices.Sort(want)
			if !slices.Equal(fired, want) {
				t.Fatalf("seed %d: fired %v, want %v (inputs at %v)", seed, fired, want, limit)
			}
		}
		a.Close()
		b.Close()
		runSingle(t, w)
	}
}

// A request made from within ForEach for a time ready in the same round,
// not yet handed to f, merges with it: the time fires once. A request for
// the time being handled is a new one and fires again.
func TestNotificatorRequestFromForEach(t *testing.T) {
	for _, c := range []struct {
		name     string
		from, at T
		want     map[T]int
	}{
		{"a later ready time", 1, 3, map[T]int{0: 1, 1: 1, 3: 1}},
		{"the time being handled", 3, 3, map[T]int{0: 1, 1: 1, 3: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, got := notifyFromForEach(t, c.from, c.at)
			if !maps.Equal(before, c.want) {
				t.Fatalf("fired %v before the input closed, want %v: a ready time requested from f waited for another activation", before, c.want)
			}
			if !maps.Equal(got, c.want) {
				t.Fatalf("fired %v, want %v", got, c.want)
			}
		})
	}
}

// notifyFromForEach notifies at 0, 1 and 3, all ready in one round, and
// requests at once more from f when it first handles from; it returns how
// often each time fired before the input closed (a ready time requested
// from f fires in the same ForEach, with no other activation), and in
// all.
func notifyFromForEach(t *testing.T, from, at T) (beforeClose, fired map[T]int) {
	w := dataflow.NewWorker()
	fired = map[T]int{}
	in := notifyDataflow(w, func(in *dataflow.InPort[T, int], n *operators.Notificator[T]) {
		in.ForEach(func(ref dataflow.CapabilityRef[T], data []int) {
			n.NotifyAt(ref.Retain())
		})
		n.ForEach(func(c *dataflow.Capability[T]) {
			fired[c.Time()]++
			if c.Time() == from && fired[from] == 1 {
				n.NotifyAt(c.Delayed(at))
			}
		})
	})
	in.Send(0)
	in.AdvanceTo(1)
	in.Send(1)
	in.AdvanceTo(3)
	in.Send(3)
	in.AdvanceTo(10)
	for range 5 {
		w.Step()
	}
	beforeClose = maps.Clone(fired)
	in.Close()
	runSingle(t, w)
	return beforeClose, fired
}

// notifyDataflow builds, on w, an input feeding a UnaryNotify whose logic
// is logic (it sends nothing), and returns the input.
func notifyDataflow(w *dataflow.Worker, logic func(in *dataflow.InPort[T, int], n *operators.Notificator[T])) *dataflow.InputHandle[T, int] {
	var in *dataflow.InputHandle[T, int]
	dataflow.Dataflow(w, "notify", func(s *dataflow.Scope[T]) {
		var nums *dataflow.Stream[T, int]
		in, nums = operators.Input[int](s)
		operators.UnaryNotify(nums, dataflow.Pipeline[int](), "notify",
			func(in *dataflow.InPort[T, int], _ *dataflow.OutPort[T, int], n *operators.Notificator[T]) {
				logic(in, n)
			})
	})
	return in
}

// Within ForEach's f, Pending counts the ready times f has not been handed
// yet, and a Drop from f drops them: none fires after it. (Before, Pending
// counted only the times not yet ready, 0 here from the first call on, and
// the ready times fired after a Drop.)
func TestNotificatorPendingAndDropWithinForEach(t *testing.T) {
	for _, drop := range []bool{false, true} {
		w := dataflow.NewWorker()
		var fired []T
		var pending []int
		in := notifyDataflow(w, func(in *dataflow.InPort[T, int], n *operators.Notificator[T]) {
			in.ForEach(func(ref dataflow.CapabilityRef[T], data []int) { n.NotifyAt(ref.Retain()) })
			n.ForEach(func(c *dataflow.Capability[T]) {
				fired = append(fired, c.Time())
				pending = append(pending, n.Pending())
				if drop {
					n.Drop()
				}
			})
		})
		for _, tm := range []T{0, 1, 3} {
			in.AdvanceTo(tm)
			in.Send(0)
		}
		in.AdvanceTo(10) // all three ready in one round
		settle(t, w)
		wantFired, wantPending := []T{0, 1, 3}, []int{2, 1, 0}
		if drop {
			wantFired, wantPending = []T{0}, []int{2}
		}
		if !slices.Equal(fired, wantFired) || !slices.Equal(pending, wantPending) {
			t.Fatalf("drop %v: fired %v with Pending %v, want %v with %v", drop, fired, pending, wantFired, wantPending)
		}
		in.Close()
		runSingle(t, w)
	}
}

// f may drop the capability it is handed, after sending with it, say;
// ForEach then does not drop it again. (Before, ForEach's own Drop panicked
// with "capability already dropped", naming neither f nor ForEach.)
func TestNotificatorFMayDropItsCapability(t *testing.T) {
	w := dataflow.NewWorker()
	var fired []T
	in := notifyDataflow(w, func(in *dataflow.InPort[T, int], n *operators.Notificator[T]) {
		in.ForEach(func(ref dataflow.CapabilityRef[T], data []int) { n.NotifyAt(ref.Retain()) })
		n.ForEach(func(c *dataflow.Capability[T]) {
			fired = append(fired, c.Time())
			c.Drop()
		})
	})
	for _, tm := range []T{0, 2} {
		in.AdvanceTo(tm)
		in.Send(0)
	}
	in.Close()
	runSingle(t, w)
	if !slices.Equal(fired, []T{0, 2}) {
		t.Fatalf("fired %v, want [0 2]", fired)
	}
}

// A Drop from f also drops the requests not yet ready, and a request after
// it is a new one: at 1, f drops the request at 5 (not ready then) and asks
// for 5 again; 5 then fires once, when ready, and Pending after the Drop
// is 0. (A Drop that left the requests not ready behind crashed on them;
// one that forgot only their times merged the new request into the
// dropped one, which never fired.)
func TestNotificatorDropsRequestsNotReady(t *testing.T) {
	w := dataflow.NewWorker()
	var fired []T
	pendingAfterDrop := -1
	in := notifyDataflow(w, func(in *dataflow.InPort[T, int], n *operators.Notificator[T]) {
		in.ForEach(func(ref dataflow.CapabilityRef[T], data []int) { n.NotifyAt(ref.Retain()) })
		n.ForEach(func(c *dataflow.Capability[T]) {
			fired = append(fired, c.Time())
			if c.Time() == 1 {
				n.Drop()
				pendingAfterDrop = n.Pending()
				n.NotifyAt(c.Delayed(5))
			}
		})
	})
	in.AdvanceTo(1)
	in.Send(0)
	in.AdvanceTo(5)
	in.Send(0)
	settle(t, w) // 1 is ready, 5 is not
	in.AdvanceTo(6)
	settle(t, w)
	if !slices.Equal(fired, []T{1, 5}) || pendingAfterDrop != 0 {
		t.Fatalf("fired %v, Pending after the Drop %d; want [1 5] and 0", fired, pendingAfterDrop)
	}
	in.Close()
	runSingle(t, w)
}

// An operator with two outputs requests a notification at one time for
// each: both fire, each with its own output's capability. (Before, the
// second request was merged into the first by time alone and its
// capability dropped, so the operator could not send on that output at the
// time and its frontier passed the time early.)
func TestNotificatorKeepsEachOutputsRequest(t *testing.T) {
	w := dataflow.NewWorker()
	var in *dataflow.InputHandle[T, int]
	type fire struct {
		time   T
		output int
	}
	var fired []fire
	dataflow.Dataflow(w, "two-outputs", func(s *dataflow.Scope[T]) {
		var nums *dataflow.Stream[T, int]
		in, nums = operators.Input[int](s)
		b := dataflow.NewBuilder(s, "notify-both")
		port := dataflow.AddInput(b, nums, dataflow.Pipeline[int]())
		dataflow.AddOutput[int](b)
		dataflow.AddOutput[int](b)
		b.Build(func(caps []*dataflow.Capability[T]) func() {
			caps[0].Drop()
			caps[1].Drop()
			n := operators.NewNotificator(port.Frontier)
			return func() {
				port.ForEach(func(ref dataflow.CapabilityRef[T], _ []int) {
					n.NotifyAt(ref.RetainFor(0))
					n.NotifyAt(ref.RetainFor(1))
					n.NotifyAt(ref.RetainFor(1)) // the same output again merges
				})
				n.ForEach(func(c *dataflow.Capability[T]) {
					fired = append(fired, fire{c.Time(), c.Output()})
				})
			}
		})
	})
	in.AdvanceTo(1)
	in.Send(7)
	in.Close()
	runSingle(t, w)
	if want := []fire{{1, 0}, {1, 1}}; !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
}
