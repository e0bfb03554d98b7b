package tests

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/dataflow/dataflowtest"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/codec"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/shardsource"
)

func openFollowWriter(t *testing.T, c *persist.Client) *persist.WriteHandle {
	t.Helper()
	w, err := c.OpenWriter(t.Context(), followShard)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// followDriver writes the plan's batches and does the maintenance between
// them. step runs on one goroutine at a time; compact and gc also on the
// maintenance goroutine of a concurrent round; want on the test's.
type followDriver struct {
	p           *followPlan
	rng         *rand.Rand
	maint       *persist.Client // compacts, collects and holds; the source's client unless ownClients
	w           *persist.WriteHandle
	holder      *persist.ReadHandle
	holderSince frontier.Time
	holderMoves int
	gate        *followGate
	registered  bool          // the source's reader is in the state
	next        int           // the batch to append next
	upper       atomic.Uint64 // of the last batch, set before its append
	compacted   atomic.Int64
	collected   atomic.Int64

	mu      sync.Mutex
	written []persist.Update // recorded before they are appended
}

// step maybe compacts, collects and moves or expires the holder, then
// appends the next batch.
func (d *followDriver) step(ctx context.Context) error {
	defer d.gate.advance()
	if d.rng.IntN(1000) < d.p.pCompact {
		if err := d.compact(ctx); err != nil {
			return err
		}
	}
	if d.rng.IntN(1000) < d.p.pGC {
		if err := d.gc(ctx); err != nil {
			return err
		}
	}
	if d.holder != nil && d.rng.IntN(1000) < d.p.pHolder {
		if err := d.moveHolder(ctx); err != nil {
			return err
		}
	}
	// The source may see the batch before CompareAndAppend returns.
	b := d.p.batches[d.next]
	d.mu.Lock()
	d.written = append(d.written, b.rows...)
	d.mu.Unlock()
	d.upper.Store(uint64(b.upper))
	if err := d.w.CompareAndAppend(ctx, slices.Clone(b.rows), frontier.From(b.lower), frontier.From(b.upper)); err != nil {
		return fmt.Errorf("append [%d, %d): %w", b.lower, b.upper, err)
	}
	d.next++
	return nil
}

func (d *followDriver) compact(ctx context.Context) error {
	rep, err := d.maint.Compact(ctx, followShard)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if rep.BatchesMerged > 0 {
		d.compacted.Add(1)
	}
	return nil
}

// gc is safe with the source running: its reader is registered (a lease of
// an hour, heartbeated) and holds the state versions of its leased parts.
func (d *followDriver) gc(ctx context.Context) error {
	rep, err := d.maint.GC(ctx, followShard)
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	d.collected.Add(int64(rep.BlobsDeleted))
	return nil
}

// moveHolder moves the second reader's since, now and then past the
// source's, or expires it. Until the source's reader has registered (at the
// shard's since then) it stays at or before as_of.
func (d *followDriver) moveHolder(ctx context.Context) error {
	if d.rng.IntN(20) == 0 {
		err := d.holder.Expire(ctx)
		d.holder = nil
		return err
	}
	if !d.registered {
		st, err := d.maint.State(ctx, followShard)
		if err != nil {
			return err
		}
		for _, r := range st.Readers {
			d.registered = d.registered || r.Purpose == "shardsource("+d.p.name+")"
		}
	}
	to := d.holderSince + frontier.Time(d.rng.IntN(5))
	if !d.registered {
		to = min(to, d.p.asOf)
	}
	if err := d.holder.DowngradeSince(ctx, frontier.From(to)); err != nil {
		return fmt.Errorf("holder's since to %d: %w", to, err)
	}
	d.holderSince = to
	d.holderMoves++
	return nil
}

// run appends the remaining batches on the writer's goroutine; compaction
// and GC run on another, signalled after appends.
func (d *followDriver) run(ctx context.Context, r *followRun) error {
	signal := make(chan struct{}, 1)
	var maintErr error
	var wg sync.WaitGroup
	mrng := rand.New(rand.NewPCG(d.rng.Uint64(), 1))
	wg.Go(func() {
		for range signal {
			if maintErr != nil {
				continue
			}
			if mrng.IntN(2) == 0 {
				maintErr = d.compact(ctx)
			} else {
				maintErr = d.gc(ctx)
			}
		}
	})
	var err error
	for err == nil && d.next < len(d.p.batches) {
		for range d.rng.IntN(d.p.gap + 1) {
			runtime.Gosched()
		}
		if err = d.step(ctx); err != nil {
			break
		}
		if d.rng.IntN(1000) < max(d.p.pCompact, d.p.pGC) {
			select {
			case signal <- struct{}{}:
			default:
			}
		}
		if d.rng.IntN(1000) < d.p.pCatchUp {
			// Let the source reach the upper (and its reader's since
			// follow) before the next append merges. Not a failure if it
			// does not: the test's goroutine reports a stuck source.
			d.gate.open(true)
			r.minFront.waitAtLeast(ctx, d.upper.Load(), followWait)
			for range d.rng.IntN(200) {
				runtime.Gosched()
			}
			d.gate.open(false)
		}
	}
	close(signal)
	wg.Wait()
	if err == nil {
		err = maintErr
	}
	return err
}

// want sums the writes the source must have emitted at the times that
// complete accepts, by the times it emits them at.
func (d *followDriver) want(complete func(frontier.Time) bool) map[followKey]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	sum := map[followKey]int64{}
	for _, u := range d.written {
		if at, ok := d.p.emitAt(u.Time); ok && complete(at) {
			sum[followKey{string(u.Key), string(u.Val), at}] += u.Diff
		}
	}
	return sum
}

// followRun is the source on a cluster stepped by the test's goroutine.
type followRun struct {
	t      *testing.T
	p      *followPlan
	d      *followDriver
	c      *dataflowtest.Cluster
	rng    *rand.Rand
	probes []*dataflow.ProbeHandle[frontier.Time]
	outs   []*followOutput
	tokens []*shardsource.Tokens
	last   []frontier.Antichain[frontier.Time] // each worker's last frontier checked
	// dropped: the tokens are dropped, so the frontier may empty early
	// (every row must have been emitted by then all the same).
	dropped bool

	errMu sync.Mutex
	errs  []error
	// minFront is the least of the workers' frontiers (MaxUint64: empty),
	// for the writer's goroutine to wait on.
	minFront frontWatch
}

// frontWatch is a value that only the test's goroutine stores and that
// another goroutine can wait on without spinning.
type frontWatch struct {
	mu      sync.Mutex
	v       uint64
	changed chan struct{} // closed when v changes; nil until first waited on
}

func (w *frontWatch) Load() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.v
}

func (w *frontWatch) Store(v uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v != w.v {
		w.v = v
		if w.changed != nil {
			close(w.changed)
			w.changed = nil
		}
	}
}

// waitAtLeast returns once the value is at least v, ctx is done, or wait has
// passed. Not reaching v is no failure here: the test's goroutine reports a
// stuck source.
func (w *frontWatch) waitAtLeast(ctx context.Context, v uint64, wait time.Duration) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		w.mu.Lock()
		if w.v >= v {
			w.mu.Unlock()
			return
		}
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		}
	}
}

func newFollowRun(t *testing.T, p *followPlan, d *followDriver, client *persist.Client, seed uint64) *followRun {
	r := &followRun{t: t, p: p, d: d, c: dataflowtest.NewCluster(p.workers, seed), rng: rand.New(rand.NewPCG(seed, 0x7e57))}
	opts := shardsource.Options[string, string]{
		AsOf:             ptrTo(frontier.From(p.asOf)),
		Until:            p.until.Clone(),
		KeyCodec:         codec.String{},
		ValCodec:         codec.String{},
		Filter:           p.shardFilter(),
		FetchConcurrency: p.fetchConc,
		ResultBuffer:     p.resultBuf,
		ErrorHandler: shardsource.Signal(func(err error) {
			r.errMu.Lock()
			r.errs = append(r.errs, err)
			r.errMu.Unlock()
		}),
	}
	if !p.snapshot {
		opts.Snapshot = shardsource.SnapshotExclude
	}
	clientFn := func(context.Context) (*persist.Client, error) { return client, nil }
	r.c.Build(func(w *dataflow.Worker) {
		dataflow.Dataflow(w, "follow", func(s *dataflow.Scope[frontier.Time]) {
			parts, tokens := shardsource.Source(s, p.name, clientFn, followShard, opts)
			probe := dataflow.NewProbeHandle[frontier.Time]()
			r.outs = append(r.outs, collectFollow(s, parts, probe, p))
			r.probes = append(r.probes, probe)
			r.tokens = append(r.tokens, tokens)
			r.last = append(r.last, frontier.From[frontier.Time](0))
		})
	})
	return r
}

func ptrTo[T any](v T) *T { return &v }

func (r *followRun) purpose() string { return "shardsource(" + r.p.name + ")" }

// tick does one random step of the cluster, yields so the source's
// goroutines run, and checks what the step changed.
func (r *followRun) tick() {
	r.t.Helper()
	r.c.Tick()
	runtime.Gosched()
	r.check()
}

func (r *followRun) tickUntil(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(followWait)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s; frontiers %v, upper %d", what, r.last, r.d.upper.Load())
		}
		r.tick()
	}
}

// catchUp steps until the source has emitted everything up to the upper,
// then a while more, so its reader's since can follow before the next
// append merges.
func (r *followRun) catchUp() {
	r.t.Helper()
	r.d.gate.open(true)
	r.tickUntil("the source to catch up", func() bool { return r.minFront.Load() >= r.d.upper.Load() })
	for range r.rng.IntN(200) {
		r.tick()
	}
	r.d.gate.open(false)
}

// check fails on a reported error or a bad row, and checks each worker's
// frontier where it moved: monotone, not beyond the shard's upper (empty
// only once the upper reached Until), and every row before it emitted.
func (r *followRun) check() {
	r.t.Helper()
	r.errMu.Lock()
	errs := r.errs
	r.errMu.Unlock()
	if len(errs) > 0 {
		r.t.Fatalf("the source failed: %v", errs)
	}
	least := uint64(math.MaxUint64)
	for w, probe := range r.probes {
		if v := r.outs[w].violations; len(v) > 0 {
			r.t.Fatalf("worker %d: %v", w, v)
		}
		f := probe.Frontier()
		upper := r.d.upper.Load() // read after the frontier: it only grows
		if e, ok := f.Single(); ok {
			least = min(least, uint64(e))
		}
		if f.Equal(r.last[w]) {
			continue
		}
		if !frontier.LessEqual(r.last[w], f) {
			r.t.Fatalf("worker %d: frontier %v after %v", w, f, r.last[w])
		}
		// The frontier moves to as_of at once, the upper or not.
		if e, ok := f.Single(); ok && uint64(e) > max(upper, uint64(r.p.asOf)) {
			r.t.Fatalf("worker %d: frontier %v beyond the shard's upper %d and as_of %d", w, f, upper, r.p.asOf)
		}
		if u, ok := r.p.until.Single(); f.IsEmpty() && !r.dropped && (!ok || uint64(u) > upper) {
			r.t.Fatalf("worker %d: empty frontier with until %v and the upper at %d", w, r.p.until, upper)
		}
		r.last[w] = f.Clone()
		complete := func(t frontier.Time) bool { return !f.LessEqual(t) }
		if diff := r.compare(complete); diff != "" {
			r.t.Fatalf("worker %d: with the frontier at %v: %s", w, f, diff)
		}
	}
	r.minFront.Store(least)
}

// fetchSettled reports whether no fetch can deliver without outside input:
// every worker's fetches settled and the worker idle, nothing in flight.
func (r *followRun) fetchSettled() bool {
	for _, tk := range r.tokens {
		if !tk.FetchSettled() {
			return false
		}
	}
	if r.c.Fabric.InFlight() > 0 {
		return false
	}
	for _, w := range r.c.Workers {
		if !w.Idle() {
			return false
		}
	}
	return true
}

// checkAll compares everything emitted with the writes.
func (r *followRun) checkAll(when string) {
	r.t.Helper()
	r.check()
	if diff := r.compare(func(frontier.Time) bool { return true }); diff != "" {
		r.t.Fatalf("%s: %s", when, diff)
	}
}

// compare returns the differences, at the times complete accepts, between
// the rows every worker emitted and those the writes call for.
func (r *followRun) compare(complete func(frontier.Time) bool) string {
	got := map[followKey]int64{}
	for _, o := range r.outs {
		for k, d := range o.sum {
			if complete(k.t) {
				got[k] += d
			}
		}
	}
	want := r.d.want(complete)
	var diffs []string
	for k, d := range got {
		if r.p.checked(k.key) && d != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s/%s@%d: got %+d want %+d", k.key, k.val, k.t, d, want[k]))
		}
	}
	for k, d := range want {
		if _, ok := got[k]; !ok && d != 0 && r.p.checked(k.key) {
			diffs = append(diffs, fmt.Sprintf("%s/%s@%d: got none want %+d", k.key, k.val, k.t, d))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 12 {
		diffs = append(diffs[:12], fmt.Sprintf("and %d more", len(diffs)-12))
	}
	return strings.Join(diffs, "; ")
}

// shutdown drops the workers' tokens one by one, steps until the dataflow
// completes, and closes the workers.
func (r *followRun) shutdown() {
	r.t.Helper()
	if r.tokens == nil {
		return
	}
	for i, w := range r.rng.Perm(len(r.tokens)) {
		// Until every worker has dropped, the frontier must stay.
		r.dropped = i == len(r.tokens)-1
		r.tokens[w].Drop()
		for range r.rng.IntN(20) {
			r.tick()
		}
	}
	r.tokens = nil
	r.tickUntil("the dataflow to complete", func() bool { return !r.c.Running() && r.c.Fabric.InFlight() == 0 })
	if err := r.c.Close(); err != nil {
		r.t.Fatal(err)
	}
}

// abort stops a dataflow left running by a failure, checking nothing.
func (r *followRun) abort() {
	if r.tokens == nil {
		return
	}
	r.d.gate.open(true)
	for _, tk := range r.tokens {
		tk.Drop()
	}
	r.tokens = nil
	deadline := time.Now().Add(followWait)
	for (r.c.Running() || r.c.Fabric.InFlight() > 0) && time.Now().Before(deadline) {
		r.c.Tick()
		runtime.Gosched()
	}
	_ = r.c.Close()
}

// driverCtx marks the contexts of the writer's and maintenance's calls.
type driverCtx struct{}

// followGate holds some of the source's blob reads (those without
// driverCtx) until the writer has done one to three more operations, so
// fetches are in flight across appends, merges, compaction and GC, and
// complete out of order. It waits on the writer's progress, never on time;
// while the writer waits for the source it is open.
type followGate struct {
	location.Blob
	perMille int
	mu       struct {
		sync.Mutex
		rng     *rand.Rand
		ops     int
		open    bool
		changed chan struct{} // closed when ops or open change
	}
}

func newFollowGate(b location.Blob, perMille int, seed uint64) *followGate {
	g := &followGate{Blob: b, perMille: perMille}
	g.mu.rng = rand.New(rand.NewPCG(seed, 0x6a7e))
	g.mu.changed = make(chan struct{})
	return g
}

func (g *followGate) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if ctx.Value(driverCtx{}) == nil {
		g.mu.Lock()
		if !g.mu.open && g.mu.rng.IntN(1000) < g.perMille {
			until := g.mu.ops + 1 + g.mu.rng.IntN(3)
			for !g.mu.open && g.mu.ops < until && ctx.Err() == nil {
				changed := g.mu.changed
				g.mu.Unlock()
				select {
				case <-changed:
				case <-ctx.Done(): // the read itself reports it, if it must
				}
				g.mu.Lock()
			}
		}
		g.mu.Unlock()
	}
	return g.Blob.Get(ctx, key)
}

// advance counts one operation of the writer.
func (g *followGate) advance() { g.change(func() { g.mu.ops++ }) }

// open lets every read through (or gates them again).
func (g *followGate) open(open bool) { g.change(func() { g.mu.open = open }) }

func (g *followGate) change(fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fn()
	close(g.mu.changed)
	g.mu.changed = make(chan struct{})
}
