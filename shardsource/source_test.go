package shardsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// With no explicit as_of the source reads at the reader's since, and its
// frontier moves there even though the shard holds nothing yet (the
// snapshot at 42 waits for the upper to pass 42).
func TestImplicitAsOf(t *testing.T) {
	e := newEnv(t)
	e.holdSince(42)
	r := runSingle(t, e, Options[string, string]{})
	r.stepUntil("frontier [42]", func() bool { return r.frontier().Equal(frontier.From[frontier.Time](42)) })
}

// An explicit as_of beyond the since is where the frontier starts, not the
// since. (With the as_of equal to the since, as this test had it, a source
// that ignored the option passed.)
func TestExplicitAsOf(t *testing.T) {
	e := newEnv(t)
	e.holdSince(42)
	asOf := frontier.From[frontier.Time](50)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf})
	r.stepUntil("frontier [50]", func() bool { return r.frontier().Equal(frontier.From[frontier.Time](50)) })
}

func TestFetchesData(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 5, row("b", 1, 1), row("a", 3, -1))
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf})
	r.stepUntil("frontier [5]", func() bool { return r.frontier().Equal(frontier.From[frontier.Time](5)) })
	got := consolidated(r.out.rows)
	want := []string{"a/v@0+1", "a/v@3-1", "b/v@1+1"}
	if !equalStrings(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if len(r.out.violations) > 0 {
		t.Fatalf("rows before their message time: %v", r.out.violations)
	}
}

// The listing path fails (as_of 1 is before the since 3): the handler
// fires, and the frontier stays at as_of however long the worker runs.
func TestListenErrorFreezes(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 5, row("a", 0, 1), row("b", 4, 1))
	e.holdSince(3)
	var got []error
	asOf := frontier.From[frontier.Time](1)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf, ErrorHandler: Signal(func(err error) { got = append(got, err) })})
	r.stepUntil("the error", func() bool { return len(got) > 0 })
	r.quiesce()
	for range 100 {
		r.w.Step()
	}
	if !r.frontier().Equal(frontier.From[frontier.Time](1)) {
		t.Fatalf("frontier %v after a listen error, want [1]", r.frontier())
	}
	var se *Error
	if len(got) != 1 || !errors.Is(got[0], persist.ErrSinceAdvanced) || !errors.As(got[0], &se) || se.Stage != "listen" || se.Time != 1 {
		t.Fatalf("errors %v (time %v), want a listen error holding the frontier at 1", got, se)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A part at t=1 whose blob is gone: the fetch error fires, and after the
// dataflow quiesces (every later result fetched and offered) the frontier
// is still at 1.
func TestFetchErrorFreezes(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 2, row("b", 1, 1))
	e.appendAt(2, 3, row("c", 2, 1))
	e.deleteBlobsAt(1)
	var got []error
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{
		AsOf: &asOf, Until: frontier.From[frontier.Time](3),
		ErrorHandler: Signal(func(err error) { got = append(got, err) }),
	})
	r.stepUntil("the error", func() bool { return len(got) > 0 })
	r.quiesce()
	if !r.frontier().Equal(frontier.From[frontier.Time](1)) {
		t.Fatalf("frontier %v after the t=1 part failed, want [1]", r.frontier())
	}
	var se *Error
	if len(got) != 1 || !errors.Is(got[0], persist.ErrBlobMissing) || !errors.As(got[0], &se) || se.Stage != "fetch" || se.Time != 1 {
		t.Fatalf("errors %v (%+v), want a fetch error holding the frontier at 1", got, se)
	}
}

// A part the worker fails to decode (its description claims a row more
// than its blob holds, which only decoding finds) freezes the source like a
// failed read: reported once, at the fetch stage, and the frontier stays at
// the part's time while the parts before it are emitted.
func TestDecodeErrorFreezes(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	e.appendAt(1, 2, row("b", 1, 1))
	e.appendAt(2, 3, row("c", 2, 1))
	var got []error
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{
		AsOf: &asOf, Until: frontier.From[frontier.Time](3),
		ErrorHandler: Signal(func(err error) { got = append(got, err) }),
		DescTransformer: mapDescs(func(d Desc, _ int) Desc {
			if d.Part.MinTime == 1 {
				d.Part.Rows++
			}
			return d
		}),
	})
	r.stepUntil("the error", func() bool { return len(got) > 0 })
	r.quiesce()
	if !r.frontier().Equal(frontier.From[frontier.Time](1)) {
		t.Fatalf("frontier %v after the t=1 part failed to decode, want [1]", r.frontier())
	}
	var se *Error
	var ce *persist.BlobCorruptError
	if len(got) != 1 || !errors.As(got[0], &ce) || !errors.As(got[0], &se) || se.Stage != "fetch" {
		t.Fatalf("errors %v", got)
	}
	// The t=2 part may have been emitted before the t=1 part's failure
	// was known (its fetch ran alongside); the t=1 part's row never is.
	rows := consolidated(r.out.rows)
	if !equalStrings(rows, []string{"a/v@0+1"}) && !equalStrings(rows, []string{"a/v@0+1", "c/v@2+1"}) {
		t.Fatalf("emitted %v, want the t=0 part's row, maybe the t=2 part's, never the failed t=1 part's", rows)
	}
}

// Dropping the tokens mid-stream drains the frontier to empty, stops every
// goroutine (goleak) and expires the reader.
func TestShutdownMidStream(t *testing.T) {
	e := newEnv(t)
	for i := range frontier.Time(10) {
		e.appendAt(i, i+1, row("k", i, 1))
	}
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf})
	r.stepUntil("frontier >= 1", func() bool { return !r.frontier().LessThan(1) })
	r.shutdown()
	if !r.frontier().IsEmpty() {
		t.Fatalf("frontier %v after shutdown", r.frontier())
	}
	if n := e.readers(); n != 0 {
		t.Fatalf("%d readers registered after shutdown, want the source's expired", n)
	}
}

func TestConcurrentFetch(t *testing.T) {
	blob := newSlowBlob(mem.NewBlob(), 1, 2*time.Millisecond)
	e := newEnvWithBlob(t, blob)
	var want []Row
	for i := range frontier.Time(16) {
		rw := row(fmt.Sprintf("k%02d", i), i, 1)
		want = append(want, rw)
		e.appendAt(i, i+1, rw)
	}
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf, Until: frontier.From[frontier.Time](16), FetchConcurrency: 8})
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	if got, w := consolidated(r.out.rows), consolidated(want); !equalStrings(got, w) {
		t.Fatalf("got %v\nwant %v", got, w)
	}
}

func TestConcurrentFetchErrorFreezes(t *testing.T) {
	blob := newSlowBlob(mem.NewBlob(), 2, 2*time.Millisecond)
	e := newEnvWithBlob(t, blob)
	for i := range frontier.Time(12) {
		e.appendAt(i, i+1, row(fmt.Sprintf("k%02d", i), i, 1))
	}
	e.deleteBlobsAt(5)
	var got []error
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, e, Options[string, string]{
		AsOf: &asOf, Until: frontier.From[frontier.Time](12), FetchConcurrency: 8,
		ErrorHandler: Signal(func(err error) { got = append(got, err) }),
	})
	r.stepUntil("the error", func() bool { return len(got) > 0 })
	r.quiesce()
	if !r.frontier().Equal(frontier.From[frontier.Time](5)) {
		t.Fatalf("frontier %v, want frozen at [5]", r.frontier())
	}
	if len(got) != 1 || !errors.Is(got[0], persist.ErrBlobMissing) {
		t.Fatalf("errors %v", got)
	}
}

// TestFollowWhileWriterMerges: a source follows a shard whose writer merges
// its small batches as they accumulate, and the source's reader moves its
// since as the listen progresses. A merge may join batches the listen has
// yielded with new ones and advance their rows to the shard's since; the
// since must stay behind the listen's frontier for the listen to tell them
// apart. Each row must come out once, at its time, and the source must not
// fail. With the since moved to the listen's frontier itself, the listen
// refuses the first batch merged across it and the frontier stops.
func TestFollowWhileWriterMerges(t *testing.T) {
	e := newEnvClient(t, mem.NewBlob(), persist.ClientOptions{MergeFanIn: 2})
	e.appendAt(0, 1)
	asOf := frontier.From(frontier.Time(0))
	r := runSingle(t, e, Options[string, string]{AsOf: &asOf})
	r.stepUntil("the frontier past 0", func() bool { return !r.frontier().LessEqual(0) })
	var want []Row
	for i := frontier.Time(1); i <= 24; i++ {
		rw := row(fmt.Sprintf("k%d", i%3), i, 1)
		e.appendAt(i, i+1, rw)
		want = append(want, rw)
		r.stepUntil(fmt.Sprintf("the frontier past %d", i), func() bool { return !r.frontier().LessEqual(i) })
		// The listen moves the since once it asks for the next batch; the
		// next append then merges at that since.
		r.stepUntil(fmt.Sprintf("the since at %d or later", i), func() bool {
			st, err := e.client.State(context.Background(), testShard)
			if err != nil {
				t.Fatal(err)
			}
			return !st.Since.LessEqual(i - 1)
		})
	}
	if got, w := consolidated(r.out.rows), consolidated(want); !slices.Equal(got, w) {
		t.Fatalf("rows %v, want %v", got, w)
	}
	if len(r.out.violations) > 0 {
		t.Fatal(r.out.violations)
	}
	st, err := e.client.State(context.Background(), testShard)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Batches) >= 24 {
		t.Fatalf("%d batches: the writer merged nothing, so the test checked nothing", len(st.Batches))
	}
}

// Once a fetch fails, nothing more at or after the failed time is emitted,
// not even parts at that very time fetched after the failure: their
// capabilities are kept, and what they would emit is withheld. Here every
// part is read at the as_of, 2; the first part's blob is gone, and the
// other two are held back until the failure is seen. (With "after the
// failed time" in place of "at or after", both were emitted.)
func TestFreezeEmitsNothingMoreAtTheFailedTime(t *testing.T) {
	blob := newSlowBlob(mem.NewBlob(), 1, 0)
	e := newEnvWithBlob(t, blob)
	for i := range frontier.Time(3) {
		e.appendAt(i, i+1, row(fmt.Sprintf("k%d", i), i, 1))
	}
	var held []string
	for _, at := range []frontier.Time{1, 2} {
		for _, k := range e.partKeysAt(at) {
			blob.gate(k)
			held = append(held, k)
		}
	}
	e.deleteBlobsAt(0)
	var got []error
	rowsAtError := -1
	asOf := frontier.From[frontier.Time](2)
	var r *single
	r = runSingle(t, e, Options[string, string]{
		AsOf: &asOf, Until: frontier.From[frontier.Time](3), FetchConcurrency: 3,
		ErrorHandler: Signal(func(err error) {
			got = append(got, err)
			rowsAtError = len(r.out.rows)
		}),
	})
	r.stepUntil("the error", func() bool { return len(got) > 0 })
	for _, k := range held {
		blob.release(k)
	}
	r.quiesce()
	if len(got) != 1 || !errors.Is(got[0], persist.ErrBlobMissing) {
		t.Fatalf("errors %v", got)
	}
	if len(r.out.rows) != rowsAtError {
		t.Fatalf("rows emitted after the failure at 2: %v (%d before it)", r.out.rows[rowsAtError:], rowsAtError)
	}
	if !r.frontier().Equal(frontier.From[frontier.Time](2)) {
		t.Fatalf("frontier %v, want frozen at [2]", r.frontier())
	}
}

// With Signal, a fetch that fails on one worker freezes the source on every
// worker of the process: batches written afterwards are listed, but no
// worker emits their rows, their leases go at once, and the frontier stays
// at the failed time. (Before, only the failing worker's fetch operator
// froze: the other fetched and emitted the later batches, and the descs
// operator parked their leases until shutdown.)
func TestFreezeHoldsEveryWorker(t *testing.T) {
	e := newEnv(t)
	for i := range frontier.Time(4) {
		e.appendAt(i, i+1, row(fmt.Sprintf("k%d", i), i, 1))
	}
	e.deleteBlobsAt(1)
	var errs []error
	cl := runCluster(t, e, 2, 1, Options[string, string]{
		AsOf:         ptr(frontier.From[frontier.Time](0)),
		ErrorHandler: Signal(func(err error) { errs = append(errs, err) }),
	})
	cl.tickUntil("the error", func() bool { return len(errs) > 0 })
	if !errors.Is(errs[0], persist.ErrBlobMissing) {
		t.Fatal(errs)
	}
	cl.quiesceFetch()
	before := len(cl.rows())
	var parked []frontier.Time
	for _, tk := range cl.tokens {
		tk.inst.onPark = func(ts frontier.Time, _ *lease.Lease) { parked = append(parked, ts) }
	}
	for i := frontier.Time(4); i < 10; i++ {
		e.appendAt(i, i+1, row(fmt.Sprintf("late%d", i), i, 1))
	}
	chosen := cl.c.Workers[ChosenWorker("test_source", 2)]
	cl.tickUntil("the descs operator at 10", func() bool {
		for _, c := range chosen.LiveCapabilities() {
			if strings.HasPrefix(c.Operator, "shard_source_descs(") && c.Output == 0 && c.Time == frontier.Time(10) {
				return true
			}
		}
		return false
	})
	cl.quiesceFetch()
	if rows := cl.rows(); len(rows) != before {
		t.Fatalf("rows emitted after the failure at 1: %v", rows[before:])
	}
	if len(parked) != 0 {
		t.Fatalf("leases parked after the failure at 1, at %v", parked)
	}
	for w, p := range cl.probes {
		if f := p.Frontier(); !f.Equal(frontier.From[frontier.Time](1)) {
			t.Fatalf("worker %d's frontier %v, want frozen at [1]", w, f)
		}
	}
}
