package shardsource

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

// Filter: Discard skips a part, ReplaceWith stands a snapshot part wholly at
// or before as_of in with one row summing its diffs, and is ignored (the
// part is fetched) for a part with rows after as_of.
func TestFilter(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("drop", 0, 1))
	e.appendAt(1, 2, row("x", 1, 1), row("y", 1, 2))
	e.appendAt(2, 4, row("late", 3, 1))
	asOf := frontier.From[frontier.Time](2)
	filter := func(p persist.PartDesc, a frontier.Antichain[frontier.Time]) FilterResult {
		if !a.Equal(asOf) {
			t.Errorf("filter saw as_of %v", a)
		}
		switch {
		case bytes.Equal(p.KeyLower, []byte("drop")):
			return Discard()
		case bytes.Equal(p.KeyLower, []byte("x")), bytes.Equal(p.KeyLower, []byte("late")):
			return ReplaceWith([]byte("sum"), []byte("v"))
		}
		return Keep()
	}
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf, Filter: filter, Until: frontier.From[frontier.Time](4)})
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	got := consolidated(r.out.rows)
	want := []string{"late/v@3+1", "sum/v@2+3"}
	if !equalStrings(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// ReplaceWith of a part whose diffs sum to zero emits nothing, not a row
// with a zero diff, and releases the part's lease; the other part, summing
// to 1, is replaced as usual.
func TestReplaceWithZeroSum(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 2, row("x", 1, 1), row("y", 1, -1))
	e.appendAt(2, 3, row("z", 2, 1))
	asOf := frontier.From[frontier.Time](2)
	filter := func(persist.PartDesc, frontier.Antichain[frontier.Time]) FilterResult {
		return ReplaceWith([]byte("sum"), []byte("v"))
	}
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf, Filter: filter, Until: frontier.From[frontier.Time](3)})
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	want := []Row{{Key: []byte("sum"), Val: []byte("v"), Time: 2, Diff: 1}}
	if !slices.EqualFunc(r.out.rows, want, func(a, b Row) bool {
		return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Val, b.Val) && a.Time == b.Time && a.Diff == b.Diff
	}) {
		t.Fatalf("emitted %+v, want only %+v: the part whose diffs sum to zero stands for nothing", r.out.rows, want)
	}
	r.shutdown()
	if n := e.readers(); n != 0 {
		t.Fatalf("%d readers after shutdown: a lease kept the reader", n)
	}
}

// ReplaceWith of a part whose diffs sum beyond the int64 range fetches the
// part: no one row can carry the sum. (Before, the part's DiffsSum wrapped
// around: to MinInt64 in the first case, a row of the wrong sign, and to 0
// in the second, which discarded the part.) The third part sums to
// MaxInt64 - 1, which fits, and is replaced as usual.
func TestReplaceWithSumOutOfRange(t *testing.T) {
	const max = math.MaxInt64
	for _, tc := range []struct {
		name string
		rows []Row
	}{
		{"one past the bound", []Row{row("x", 0, max), row("y", 0, 1)}},
		{"wraps to zero", []Row{row("x", 0, max), row("y", 0, max), row("z", 0, 2)}},
		{"below the bound", []Row{row("x", 0, math.MinInt64), row("y", 0, -1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.appendAt(0, 1, tc.rows...)
			e.appendAt(1, 2, row("a", 1, max-2), row("b", 1, 1))
			asOf := frontier.From[frontier.Time](1)
			filter := func(persist.PartDesc, frontier.Antichain[frontier.Time]) FilterResult {
				return ReplaceWith([]byte("sum"), []byte("v"))
			}
			r := runSingle(t, e, Options[string, string]{AsOf: &asOf, Filter: filter, Until: frontier.From[frontier.Time](2)})
			r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
			got := consolidated(r.out.rows)
			want := []string{fmt.Sprintf("sum/v@1+%d", int64(max-1))}
			for _, x := range tc.rows {
				want = append(want, fmt.Sprintf("%s/%s@1%+d", x.Key, x.Val, x.Diff))
			}
			slices.Sort(want)
			if !equalStrings(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// The Filter sees the frontier each part is read at: as_of for the
// snapshot's part, the batch's lower for a later batch's.
func TestFilterSeesReadFrontier(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 2, row("b", 1, 1))
	e.appendAt(2, 5, row("c", 3, 1))
	var mu sync.Mutex
	seen := map[string]string{}
	filter := func(p persist.PartDesc, readAt frontier.Antichain[frontier.Time]) FilterResult {
		mu.Lock()
		defer mu.Unlock()
		seen[string(p.KeyLower)] += readAt.String()
		return Keep()
	}
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf, Filter: filter, Until: frontier.From[frontier.Time](5)})
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{"a": "[0]", "b": "[1]", "c": "[2]"}
	if !maps.Equal(seen, want) {
		t.Fatalf("filter saw %v, want %v", seen, want)
	}
}

// SnapshotExclude emits only the changes after as_of; Until drops rows at
// or beyond it and ends the source.
func TestSnapshotExcludeAndUntil(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 2, row("a", 0, 1), row("b", 1, 1))
	e.appendAt(2, 6, row("c", 2, 1), row("d", 5, 1))
	asOf := frontier.From[frontier.Time](1)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf, Snapshot: SnapshotExclude, Until: frontier.From[frontier.Time](5)})
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	if got, want := consolidated(r.out.rows), []string{"c/v@2+1"}; !equalStrings(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// StartSignal: the reader registers, but as_of is not resolved (the
// frontier does not move to the since) before the signal.
func TestStartSignal(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 10, row("a", 1, 1))
	e.holdSince(7)
	start := make(chan struct{})
	r := runSingle(t, e, Options[string, string]{StartSignal: start})
	r.stepUntil("the reader registered", func() bool { return e.readers() == 2 })
	for range 20 {
		r.w.Step()
	}
	if !r.frontier().Equal(frontier.From[frontier.Time](0)) {
		t.Fatalf("frontier %v before the start signal", r.frontier())
	}
	close(start)
	r.stepUntil("frontier [10]", func() bool { return r.frontier().Equal(frontier.From[frontier.Time](10)) })
	if got, want := consolidated(r.out.rows), []string{"a/v@7+1"}; !equalStrings(got, want) {
		t.Fatalf("got %v, want %v (read at the since)", got, want)
	}
}

// A DescTransformer sits between the descs and the fetch operator.
func TestDescTransformer(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 2, row("b", 1, 1))
	seen := 0
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{
		AsOf: &asOf, Until: frontier.From[frontier.Time](2),
		DescTransformer: mapDescs(func(d Desc, _ int) Desc { seen++; return d }),
	})
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	if seen != 2 || len(r.out.rows) != 2 {
		t.Fatalf("transformer saw %d descs, %d rows out", seen, len(r.out.rows))
	}
}

// A DescTransformer must send each desc on at the time it received it.
// One that sent them 10 later let the completed-fetches frontier pass the
// listing time, and so release the part's lease, while the fetch was still
// queued or running: compaction and GC then took the blob under it. (Fails
// without the listed-time check: no error, the parts fetched at 10 and 11.)
// The desc is not fetched: the source fails at the time it arrived at and
// holds its frontier there.
func TestDescTransformerMustKeepTimes(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 2, row("b", 1, 1))
	var errs []error
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{
		AsOf: &asOf, Until: frontier.From[frontier.Time](2),
		DescTransformer: retimeDescs(10),
		ErrorHandler:    Signal(func(err error) { errs = append(errs, err) }),
	})
	r.stepUntil("an error", func() bool { return len(errs) > 0 })
	var se *Error
	if !errors.As(errs[0], &se) || !errors.Is(errs[0], ErrDescRetimed) || se.Stage != "fetch" || se.Time != 10 {
		t.Fatalf("error %v, want ErrDescRetimed at fetch, time 10", errs[0])
	}
	for range 20 {
		r.w.StepOrPark(time.Millisecond)
	}
	if len(r.out.rows) != 0 || !r.frontier().LessEqual(10) {
		t.Fatalf("after the error: rows %v, frontier %v; want none, and the frontier at or before 10", r.out.rows, r.frontier())
	}
}

// retimeDescs is a DescTransformer that sends each desc on by later than
// it received it: what a DescTransformer must not do.
func retimeDescs(by frontier.Time) descTransformer {
	return eachDescs("retime_descs", func(ref dataflow.CapabilityRef[frontier.Time], ds []Desc, out *dataflow.OutPort[frontier.Time, Desc], _ int) {
		c := ref.DelayedFor(0, ref.Time()+by)
		out.Session(c).GiveSlice(ds)
		c.Drop()
	})
}

// Halt panics on the worker with the error, after stopping the source's
// goroutines (goleak checks none is left).
func TestHalt(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 2, row("a", 0, 1))
	e.deleteBlobsAt(0)
	asOf := frontier.From[frontier.Time](0)
	w := dataflow.NewWorker()
	dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
		parts, _ := Source(s, "test_source", e.clientFn(), testShard, stringOpts(Options[string, string]{AsOf: &asOf}))
		collect(s, parts, dataflow.NewProbeHandle[frontier.Time]())
	})
	var got any
	func() {
		defer func() { got = recover() }()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			w.StepOrPark(10 * time.Millisecond)
		}
	}()
	err, ok := got.(error)
	if !ok || !errors.Is(err, persist.ErrBlobMissing) {
		t.Fatalf("recovered %v, want the missing blob", got)
	}
	if n := e.readers(); n != 0 {
		t.Fatalf("%d readers after halt, want the source's expired", n)
	}
}

// Halt on a worker that does not list stops the source on every worker of
// the process: Execute aborts the other workers without stepping them
// again, so the listing worker's listen goroutine (and the reader it keeps
// registered and heartbeats) and the pooled fetch goroutines would
// otherwise outlive the dataflow.
func TestHaltOnOtherWorkerStopsEveryWorkersGoroutines(t *testing.T) {
	base := goleak.IgnoreCurrent()
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 2, row("b", 1, 1))
	gated := e.partKeysAt(1)[0]
	e.deleteBlobsAt(1)
	const workers = 2
	asOf := frontier.From[frontier.Time](0)
	err := dataflow.Execute(dataflow.Config{Workers: workers, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
			parts, _ := Source(s, "test_source", e.clientFn(), testShard, stringOpts(Options[string, string]{
				AsOf: &asOf, DescTransformer: gatedAway(gated, workers),
			}))
			collect(s, parts, dataflow.NewProbeHandle[frontier.Time]())
		})
	})
	if errors.Is(err, dataflow.ErrStalled) {
		t.Fatalf("a worker stalled during the abort, its wake-up lost: %v", err)
	}
	var pe *dataflow.PanicError
	if !errors.As(err, &pe) || pe.Worker == ChosenWorker("test_source", workers) || !errors.Is(pe.Value.(error), persist.ErrBlobMissing) {
		t.Fatalf("Execute returned %v, want the missing blob's panic on the worker that does not list", err)
	}
	nothingLeft(t, e, base, "the halt")
}

// nothingLeft fails t if a goroutine beyond base or a reader of e's shard
// is left after what.
func nothingLeft(t *testing.T, e *env, base goleak.Option, what string) {
	t.Helper()
	if err := goleak.Find(base); err != nil {
		t.Fatalf("goroutines left after %s: %v", what, err)
	}
	if n := e.readers(); n != 0 {
		t.Fatalf("%d readers after %s, want the source's expired", n, what)
	}
}

// A panic elsewhere in the dataflow aborts Execute, whose workers then run
// the source's operators no more: the source's goroutines stop and its
// reader is expired all the same, when the workers let go of the source.
func TestAbortElsewhereStopsTheSource(t *testing.T) {
	base := goleak.IgnoreCurrent()
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 2, row("b", 1, 1))
	asOf := frontier.From[frontier.Time](0)
	err := dataflow.Execute(dataflow.Config{Workers: 2, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
			// No Until: the source follows the shard, so its listen
			// goroutine never ends by itself.
			parts, _ := Source(s, "test_source", e.clientFn(), testShard, stringOpts(Options[string, string]{AsOf: &asOf}))
			b := dataflow.NewBuilder(s, "boom")
			in := dataflow.AddInput(b, parts, dataflow.Pipeline[*Part[string, string]]())
			b.Build(func([]*dataflow.Capability[frontier.Time]) func() {
				return func() {
					in.ForEach(func(_ dataflow.CapabilityRef[frontier.Time], ps []*Part[string, string]) {
						panic("downstream boom")
					})
				}
			})
		})
	})
	if errors.Is(err, dataflow.ErrStalled) {
		t.Fatalf("a worker stalled during the abort, its wake-up lost: %v", err)
	}
	var pe *dataflow.PanicError
	if !errors.As(err, &pe) || pe.Value != "downstream boom" {
		t.Fatalf("Execute returned %v, want the downstream panic", err)
	}
	nothingLeft(t, e, base, "the abort")
}

// Two sources of one name in one dataflow are two sources: each has its
// own fetch goroutines and its own peers to halt.
func TestSameNameSourcesShareNothing(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	w := dataflow.NewWorker()
	defer w.Close()
	var tokens []*Tokens
	dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
		for range 2 {
			_, tk := Source(s, "twin", e.clientFn(), testShard, stringOpts(Options[string, string]{}))
			tokens = append(tokens, tk)
		}
	})
	if tokens[0].inst.peers == tokens[1].inst.peers {
		t.Fatal("two sources of one name share their peers (and their fetch pool)")
	}
	for _, tk := range tokens {
		tk.Drop()
	}
	for w.Running() > 0 {
		w.StepOrPark(dataflow.Forever)
	}
}

// An empty as_of reads nothing; an as_of at or beyond Until too: the
// frontier is empty at once and nothing is listened to.
func TestNothingToRead(t *testing.T) {
	for name, opts := range map[string]Options[string, string]{
		"empty as_of":    {AsOf: &frontier.Antichain[frontier.Time]{}},
		"as_of >= until": {AsOf: ptr(frontier.From[frontier.Time](3)), Until: frontier.From[frontier.Time](3)},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.appendAt(0, 5, row("a", 1, 1))
			r := runSingle(t, e, opts)
			r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
			r.stepUntil("the dataflow to complete", func() bool { return r.w.Running() == 0 })
			if len(r.out.rows) != 0 || e.readers() != 0 {
				t.Fatalf("rows %v, readers %d", r.out.rows, e.readers())
			}
		})
	}
}

// Tokens dropped before the first step: nothing is started, nothing leaks.
func TestShutdownBeforeStart(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 5, row("a", 1, 1))
	r := runSingle(t, e, Options[string, string]{})
	r.shutdown()
	if e.readers() != 0 {
		t.Fatalf("readers %d after shutdown", e.readers())
	}
}

// mapDescs is a DescTransformer that rewrites each desc on its way to the
// fetch operator (chosen is the listing worker).
func mapDescs(fn func(d Desc, chosen int) Desc) descTransformer {
	return eachDescs("map_descs", func(ref dataflow.CapabilityRef[frontier.Time], ds []Desc, out *dataflow.OutPort[frontier.Time, Desc], chosen int) {
		session := out.Session(ref)
		for _, d := range ds {
			session.Give(fn(d, chosen))
		}
	})
}

type descTransformer = func(*dataflow.Scope[frontier.Time], *dataflow.Stream[frontier.Time, Desc], int) *dataflow.Stream[frontier.Time, Desc]

// eachDescs is a DescTransformer of one operator, named name, that calls
// each with every message of descs, its output port and the listing
// worker.
func eachDescs(name string, each func(ref dataflow.CapabilityRef[frontier.Time], ds []Desc, out *dataflow.OutPort[frontier.Time, Desc], chosen int)) descTransformer {
	return func(s *dataflow.Scope[frontier.Time], descs *dataflow.Stream[frontier.Time, Desc], chosen int) *dataflow.Stream[frontier.Time, Desc] {
		b := dataflow.NewBuilder(s, name)
		in := dataflow.AddInput(b, descs, dataflow.Pipeline[Desc]())
		out, stream := dataflow.AddOutput[Desc](b)
		b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
			caps[0].Drop()
			return func() {
				in.ForEach(func(ref dataflow.CapabilityRef[frontier.Time], ds []Desc) { each(ref, ds, out, chosen) })
			}
		})
		return stream
	}
}

// The source keeps its own copies of AsOf and Until: the listen goroutine
// reads them after Source returns, when the caller may have reused them.
func TestOptionsAreCopied(t *testing.T) {
	asOf := frontier.From[frontier.Time](3)
	until := frontier.From[frontier.Time](9)
	o := Options[string, string]{AsOf: &asOf, Until: until}.withDefaults()
	asOf = frontier.From[frontier.Time](7)
	until.Insert(1)
	if got, _ := o.AsOf.Single(); got != 3 {
		t.Errorf("AsOf followed the caller's change: %v", o.AsOf)
	}
	if !o.Until.Equal(frontier.From[frontier.Time](9)) {
		t.Errorf("Until followed the caller's change: %v", o.Until)
	}
}

// Options no default stands for are refused where they are written, with a
// panic naming them: a SnapshotMode out of range used to drop the
// snapshot silently, and Signal(nil) used to halt the worker.
func TestOptionsOutOfDomainRefused(t *testing.T) {
	panics := func(f func()) (msg string) {
		defer func() {
			if r := recover(); r != nil {
				msg = fmt.Sprint(r)
			}
		}()
		f()
		return ""
	}
	if msg := panics(func() { Signal(nil) }); !strings.Contains(msg, "Signal(nil)") {
		t.Errorf("Signal(nil): panic %q", msg)
	}
	e := newEnv(t)
	w := dataflow.NewWorker()
	var tokens *Tokens
	msg := panics(func() {
		dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
			_, tokens = Source(s, "test_source", e.clientFn(), testShard, stringOpts(Options[string, string]{Snapshot: SnapshotMode(2)}))
		})
	})
	if !strings.Contains(msg, "Options.Snapshot is 2") {
		t.Errorf("SnapshotMode(2): panic %q", msg)
	}
	if tokens != nil {
		tokens.Drop() // a source built after all: let it shut down
	}
	for w.Step() {
	}
	// Beyond the bound each worker would start that many goroutines, or
	// fail in make with "makechan: size out of range".
	for _, o := range []Options[string, string]{{FetchConcurrency: math.MaxInt}, {ResultBuffer: MaxFetchConcurrency + 1}} {
		if msg := panics(func() { o.withDefaults() }); !strings.Contains(msg, "must be at most 16384") {
			t.Errorf("FetchConcurrency %d, ResultBuffer %d: panic %q", o.FetchConcurrency, o.ResultBuffer, msg)
		}
	}
	if msg := panics(func() { Options[string, string]{FetchConcurrency: MaxFetchConcurrency}.withDefaults() }); msg != "" {
		t.Errorf("FetchConcurrency at the bound: panic %q", msg)
	}
}
