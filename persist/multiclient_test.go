package persist

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location"
)

var multiClientSeed = flag.Uint64("persist.multiclientseed", 0, "run TestMultiClient with this seed")

// A TestMultiClient run ends when its writers have made their appends, not
// after a time.
const (
	mcWriters, mcAppends         = 3, 40 // acknowledged appends per writer
	mcListeners, mcReaders       = 2, 3  // the last reader unregistered
	mcSnapshots                  = 60    // per reader, at most
	mcMaintainers, mcDeadWriters = 2, 10 // a dead writer's parts precede 1 in mcDeadWriters appends
	mcMaxStep, mcShortLease      = 10 * time.Second, 20 * time.Second
	mcLongLease, mcJanitorAge    = 1000 * time.Hour, time.Hour
)

// TestMultiClient runs clients on one default location (file blob store and
// SQLite consensus), each with handles of its own as separate processes
// would have: writers racing to compare-and-append from stale and fresh
// uppers (inline and blob parts, retractions, merges, and now and then the
// parts of a writer that died before committing); listeners and snapshot
// readers holding parts across GC while they move their since, the
// snapshot readers' short leases expired by another client's GC; an
// unregistered reader on a read-only handle; and clients running GC,
// compaction and the janitor throughout.
//
// Against a model of the acknowledged appends: the final snapshot holds
// every acknowledged update exactly once, and an append whose outcome was
// indeterminate whole or not at all; every snapshot equals the model at its
// as-of; a listener yields each row exactly once, at its own time, in a
// batch whose lower is the listen's frontier, and its progress always
// advances; a live reader's fetch never finds a blob missing, an expired
// reader's only with ReaderExpired; the janitor, running with the writers,
// reaps every part of the dead writers and never one a reader or a commit
// still needs; Verify finds the shard whole.
//
// The seed fixes each client's choices, not how the clients interleave:
// replaying one (go test ./persist -run TestMultiClient
// -persist.multiclientseed=N -count=10) may take a few tries.
func TestMultiClient(t *testing.T) {
	seed := *multiClientSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -persist.multiclientseed=%d)", seed, seed)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard only
	defer cancel()
	writing, writersDone := context.WithCancel(ctx)
	defer writersDone()
	mc := &multiClient{dir: t.TempDir(), clock: newManualClock(), ticks: make(chan struct{}, mcWriters*mcAppends)}
	mc.blobClock = &janitorClock{t: t, marker: filepath.Join(mc.dir, "clock")}
	var writers, readers, maintainers sync.WaitGroup
	var launch []func()
	// start opens a client with a random stream of its own, to run role on
	// once every client is open: here, in order (the read-only one after a
	// writable one made the location), where failing to open is fatal.
	start := func(wg *sync.WaitGroup, name string, o ClientOptions, readOnly bool, role func(*Client, *rand.Rand) error) {
		rng := rand.New(rand.NewPCG(seed, uint64(len(launch)+1)))
		c := mc.client(t, ctx, rng, o, readOnly)
		launch = append(launch, func() {
			wg.Go(func() {
				if err := role(c, rng); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			})
		})
	}
	for i := range mcWriters {
		start(&writers, fmt.Sprint("writer ", i), ClientOptions{}, false, func(c *Client, rng *rand.Rand) error {
			return mc.writer(ctx, c, rng, i)
		})
	}
	listens := make([]listenResult, mcListeners)
	for i := range listens {
		start(&readers, fmt.Sprint("listener ", i), ClientOptions{}, false, func(c *Client, rng *rand.Rand) error {
			return mc.listener(ctx, writing, c, rng, &listens[i])
		})
	}
	for i := range mcReaders {
		registered := i < mcReaders-1
		start(&readers, fmt.Sprint("reader ", i), ClientOptions{LeaseDuration: mcShortLease}, !registered, func(c *Client, rng *rand.Rand) error {
			return mc.reader(ctx, writing, c, rng, registered)
		})
	}
	for i := range mcMaintainers {
		start(&maintainers, fmt.Sprint("maintainer ", i), ClientOptions{BlobClock: mc.blobClock}, false, func(c *Client, rng *rand.Rand) error {
			return mc.maintainer(ctx, c, rng)
		})
	}
	for _, f := range launch {
		f()
	}
	writers.Wait()
	writersDone()
	close(mc.ticks)
	readers.Wait()
	maintainers.Wait()
	if t.Failed() {
		return
	}
	mc.check(t, ctx, mc.client(t, ctx, rand.New(rand.NewPCG(seed, 0)), ClientOptions{BlobClock: mc.blobClock}, false), listens)
}

type multiClient struct {
	dir       string
	clock     *manualClock // the leases': maintainers step it, so GC expires idle readers
	blobClock *janitorClock
	ticks     chan struct{} // one per acknowledged append, to pace the maintainers
	mu        struct {
		sync.Mutex
		acked     []Update
		unsure    [][]Update // appends whose outcome was indeterminate
		orphans   []string   // blob keys of parts no writer will commit
		snapshots []snapshotResult
	}
	reaped, excusedFetches, reopens atomic.Int64
}

type snapshotResult struct {
	asOf frontier.Time
	got  contents
}

type listenResult struct {
	asOf, upper frontier.Time // from the as-of to the frontier the listen reached
	rows        contents      // every row the listen yielded, at its own time
}

func (mc *multiClient) locked(f func()) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	f()
}

// client opens a client on handles of its own and the manual lease clock,
// with part sizes, merging and inlining drawn from rng.
func (mc *multiClient) client(t *testing.T, ctx context.Context, rng *rand.Rand, o ClientOptions, readOnly bool) *Client {
	open := DefaultLocation
	if readOnly {
		open = DefaultLocationReadOnly
	}
	loc, err := open(ctx, mc.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loc.Close() })
	o.Clock, o.LeaseDuration = mc.clock, cmp.Or(o.LeaseDuration, mcLongLease)
	o.ListenPollMin, o.ListenPollMax = time.Millisecond, 10*time.Millisecond
	o.PartTargetSize = []int64{2 << 10, 8 << 10, 1 << 20}[rng.IntN(3)]
	o.MergeFanIn = []int{2, 3, 8}[rng.IntN(3)]
	o.InlineWriteMaxBytes = []int64{0, 0, -1}[rng.IntN(3)]
	return NewClient(loc, o)
}

// writer appends until mcAppends of its appends are acknowledged: first
// from an upper it may not have fetched, then from the one it last wrote or
// the one a lost race reported.
func (mc *multiClient) writer(ctx context.Context, c *Client, rng *rand.Rand, wi int) error {
	w, err := c.OpenWriter(ctx, "s")
	if err != nil {
		return err
	}
	defer w.Close(context.Background())
	upper := w.Upper()
	if rng.IntN(2) == 0 {
		upper, err = w.FetchUpper(ctx)
	}
	var mine []Update // acknowledged rows, to retract
	for attempt, acked := 0, 0; err == nil && acked < mcAppends; attempt++ {
		lower, _ := upper.Single()
		span := frontier.Time(1 + rng.IntN(3))
		at := func() frontier.Time { return lower + frontier.Time(rng.IntN(int(span))) }
		n := []int{0, 1, 2, 3, 20 + rng.IntN(200)}[rng.IntN(5)] // large batches make blob parts
		var us []Update
		for j := range n {
			us = append(us, up(fmt.Sprintf("w%d-%d-%d", wi, attempt, j), strings.Repeat("v", rng.IntN(60)), at(), 1))
		}
		if n > 0 && len(mine) > 0 && rng.IntN(3) == 0 {
			o := mine[rng.IntN(len(mine))]
			us = append(us, up(string(o.Key), string(o.Val), at(), -1))
		}
		if n > 0 && rng.IntN(mcDeadWriters) == 0 {
			if err := mc.dieBeforeCommit(ctx, c, us); err != nil {
				return err
			}
		}
		done := mc.blobClock.writing()
		err = w.CompareAndAppend(ctx, us, upper, frontier.From(lower+span))
		done()
		var um *UpperMismatchError
		switch {
		case err == nil:
			mc.locked(func() { mc.mu.acked = append(mc.mu.acked, us...) })
			mc.ticks <- struct{}{}
			mine = append(mine, us[:n]...)
			upper, acked = frontier.From(lower+span), acked+1
			err = w.MergeErr()
		case errors.As(err, &um):
			if cur, ok := um.Current.Single(); !ok || cur <= lower {
				return fmt.Errorf("lost a race from %d to upper %v", lower, um.Current)
			}
			upper, err = um.Current, nil
		case location.IsIndeterminate(err):
			mc.locked(func() { mc.mu.unsure = append(mc.mu.unsure, us) })
			upper, err = w.FetchUpper(ctx)
		default:
			err = fmt.Errorf("append at %d: %w", lower, err)
		}
	}
	return err
}

// dieBeforeCommit writes the parts of us to blobs as an append would and
// commits nothing, like a writer that died in between: the janitor's to
// reap.
func (mc *multiClient) dieBeforeCommit(ctx context.Context, c *Client, us []Update) error {
	defer mc.blobClock.writing()()
	us, err := consolidate(slices.Clone(us))
	if err != nil {
		return err
	}
	parts, err := writeParts(ctx, c, "s", "dead", us, -1, c.opts.PartTargetSize)
	for _, p := range parts {
		mc.locked(func() { mc.mu.orphans = append(mc.mu.orphans, p.Key) })
	}
	return err
}

// listener listens from its since while the writers write, holding some
// batches' parts across later GC runs and since downgrades before it
// fetches them.
func (mc *multiClient) listener(ctx, writing context.Context, c *Client, rng *rand.Rand, res *listenResult) error {
	r, err := c.OpenReader(ctx, "s", "listen")
	if err != nil {
		return err
	}
	defer r.Expire(context.Background())
	res.asOf, res.rows = sinceOf(r), contents{}
	l, err := r.Listen(ctx, res.asOf)
	if err != nil {
		return err
	}
	defer l.Close()
	take := func(ev ListenEvent) error {
		got, err := fetchParts(ctx, c, ev.Parts)
		for k, d := range got {
			if k.Time <= res.asOf || !ev.Lower.LessEqual(k.Time) || ev.Upper.LessEqual(k.Time) {
				return fmt.Errorf("row %v outside (%d, [%v, %v))", k, res.asOf, ev.Lower, ev.Upper)
			}
			res.rows.add(k.Key, k.Val, k.Time, d)
		}
		return err
	}
	var held []ListenEvent
	progress, batchUpper := res.asOf, frontier.Time(0)
	for {
		ev, err := l.Next(writing)
		if err != nil && writing.Err() != nil {
			break // the writers are done
		} else if err != nil {
			return err
		}
		lower, _ := ev.Lower.Single()
		upper, _ := ev.Upper.Single()
		switch ev.Kind {
		case ListenParts:
			if lower != progress {
				return fmt.Errorf("a batch from %d at frontier %d", lower, progress)
			}
			if batchUpper = upper; rng.IntN(3) == 0 {
				held = append(held, ev)
			} else if err := take(ev); err != nil {
				return err
			}
		case ListenProgress:
			if upper <= progress || batchUpper != 0 && upper != batchUpper {
				return fmt.Errorf("progress from %d to %d, after a batch to %d", progress, upper, batchUpper)
			}
			// The since stays behind the listen's frontier, as Listen needs.
			if rng.IntN(2) == 0 {
				err = r.DowngradeSince(ctx, frontier.From(progress))
			} else {
				err = r.Heartbeat(ctx)
			}
			for ; err == nil && len(held) > 0 && rng.IntN(2) == 0; held = held[1:] {
				err = take(held[0])
			}
			if err != nil {
				return err
			}
			progress, batchUpper = upper, 0
		}
	}
	for _, ev := range held {
		if err := take(ev); err != nil {
			return err
		}
	}
	res.upper, _ = l.Frontier().Single()
	return nil
}

// reader takes snapshots at as-ofs from its since to just past the upper,
// waiting for the writes. It fetches some at once and holds others for
// later, then moves its since up to what it read, heartbeats or idles. A
// registered reader's lease is short on the manual clock: once GC has
// expired it, a fetch may find a part gone, saying so, and it opens another
// reader. An unregistered one holds nothing: it may find its as-of
// compacted away or a part collected, and opens another. What either does
// fetch must be right.
func (mc *multiClient) reader(ctx, writing context.Context, c *Client, rng *rand.Rand, registered bool) error {
	var r *ReadHandle
	open := func() (err error) {
		if registered {
			r, err = c.OpenReader(ctx, "s", "snapshot")
		} else {
			r, err = c.OpenUnregisteredReader(ctx, "s")
		}
		return err
	}
	excused := func(err error) bool {
		var bm *BlobMissingError
		if registered {
			return errors.Is(err, ErrReaderExpired) || errors.As(err, &bm) && bm.ReaderExpired
		}
		return errors.Is(err, ErrSinceAdvanced) || errors.As(err, &bm)
	}
	type taken struct {
		asOf  frontier.Time
		parts []LeasedPart
	}
	fetch := func(s taken) error {
		got, err := fetchParts(ctx, c, s.parts)
		if err == nil {
			mc.locked(func() { mc.mu.snapshots = append(mc.mu.snapshots, snapshotResult{s.asOf, got}) })
		} else if excused(err) {
			mc.excusedFetches.Add(1)
			err = nil
		}
		return err
	}
	if err := open(); err != nil {
		return err
	}
	defer func() { r.Expire(context.Background()) }()
	var held []taken
	for range mcSnapshots {
		upper, err := shardUpper(ctx, c)
		if err != nil {
			return err
		}
		since := sinceOf(r)
		asOf := since + frontier.Time(rng.IntN(int(upper-since)+2))
		parts, err := r.Snapshot(writing, asOf)
		if err != nil && writing.Err() != nil {
			break // it would wait past the last write
		} else if err == nil {
			if s := (taken{asOf, parts}); rng.IntN(2) == 0 {
				held = append(held, s)
			} else {
				err = fetch(s)
			}
			if err == nil && len(held) > 0 && rng.IntN(3) == 0 {
				err, held = fetch(held[0]), held[1:]
			}
			if op := rng.IntN(3); err == nil && op == 0 {
				err = r.DowngradeSince(ctx, frontier.From(since+frontier.Time(rng.IntN(int(asOf-since)+1))))
			} else if err == nil && op == 1 {
				err = r.Heartbeat(ctx)
			}
		}
		if excused(err) {
			mc.reopens.Add(1)
			err = open()
		}
		if err != nil {
			return fmt.Errorf("at %d: %w", asOf, err)
		}
	}
	for _, s := range held {
		if err := fetch(s); err != nil {
			return err
		}
	}
	return nil
}

// maintainer runs GC, compaction or the janitor once per acknowledged
// append, each time stepping the lease clock, so that GC expires the
// readers that stopped heartbeating.
func (mc *multiClient) maintainer(ctx context.Context, c *Client, rng *rand.Rand) error {
	for range mc.ticks {
		mc.clock.Advance(time.Duration(rng.Int64N(int64(mcMaxStep))))
		var err error
		switch rng.IntN(3) {
		case 0:
			_, err = c.GC(ctx, "s")
		case 1:
			done := mc.blobClock.writing()
			_, err = c.Compact(ctx, "s")
			done()
		case 2:
			var rep JanitorReport
			rep, err = c.Janitor(ctx, "s", mcJanitorAge)
			mc.reaped.Add(int64(rep.OrphansReaped))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// check compares what was read with the model of the appends, reaps what
// the dead writers left, and verifies the shard.
func (mc *multiClient) check(t *testing.T, ctx context.Context, c *Client, listens []listenResult) {
	upper, err := shardUpper(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenReader(ctx, "s", "check")
	if err != nil {
		t.Fatal(err)
	}
	final := snapshotContents(t, c, r, upper-1)
	r.Expire(ctx)
	// An append with an indeterminate outcome is in the model if its first
	// row is in the shard; comparing shows any of its other rows that are
	// not, or that are when the first is not.
	m := &shardModel{updates: mc.mu.acked}
	in := map[string]bool{}
	for k := range final {
		in[k.Key] = true
	}
	for _, us := range mc.mu.unsure {
		if len(us) > 0 && in[string(us[0].Key)] {
			m.updates = append(m.updates, us...)
		}
	}
	for _, s := range append(mc.mu.snapshots, snapshotResult{upper - 1, final}) {
		if want := m.at(s.asOf); !equalContents(s.got, want) {
			t.Errorf("snapshot at %d of %d: %s", s.asOf, upper-1, contentsDiff(s.got, want))
		}
	}
	for i, l := range listens {
		want := contents{}
		for _, u := range m.updates {
			if l.asOf < u.Time && u.Time < l.upper {
				want.add(string(u.Key), string(u.Val), u.Time, u.Diff)
			}
		}
		if !equalContents(l.rows, want) {
			t.Errorf("listener %d: rows in (%d, %d): %s", i, l.asOf, l.upper, contentsDiff(l.rows, want))
		}
	}
	rep, err := c.Janitor(ctx, "s", mcJanitorAge)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range mc.mu.orphans {
		if _, ok, err := c.loc.Blob.Get(ctx, k); ok || err != nil {
			t.Errorf("a dead writer's part %s is still there (%v)", k, err)
		}
	}
	if v, err := c.Verify(ctx, "s"); err != nil || !v.OK() {
		t.Errorf("verify: %+v, %v", v, err)
	}
	t.Logf("upper %d: %d rows acknowledged, %d appends indeterminate; %d snapshots, %d fetches and %d reads excused; "+
		"%d parts of dead writers; the janitor reaped %d blobs while the writers wrote, %d after",
		upper, len(mc.mu.acked), len(mc.mu.unsure), len(mc.mu.snapshots), mc.excusedFetches.Load(), mc.reopens.Load(),
		len(mc.mu.orphans), mc.reaped.Load(), rep.OrphansReaped)
}

func shardUpper(ctx context.Context, c *Client) (frontier.Time, error) {
	st, err := c.State(ctx, "s")
	u, _ := st.Upper.Single()
	return u, err
}

// fetchParts is fetchAll, releasing every lease even when a fetch fails.
func fetchParts(ctx context.Context, c *Client, parts []LeasedPart) (contents, error) {
	got, err := fetchAll(ctx, c, parts)
	if err != nil {
		releaseAll(parts)
	}
	return got, err
}

// contentsDiff is got minus want, cut short.
func contentsDiff(got, want contents) string {
	d := contents{}
	for r, n := range got {
		d.add(r.Key, r.Val, r.Time, n)
	}
	for r, n := range want {
		d.add(r.Key, r.Val, r.Time, -n)
	}
	return fmt.Sprintf("%d rows differ, got minus want: %.1000s", len(d), d)
}

// janitorClock is the janitor's BlobClock. It reads the clock that stamps
// the blobs' ModTime, the file system's, off a file it writes beside the
// blob store, and says mcJanitorAge has passed since the oldest blob write
// in flight began: the janitor may reap an orphan as soon as its writer is
// done with it, never a part an append or compaction is still to commit,
// and no one waits for blobs to age.
type janitorClock struct {
	t      *testing.T
	marker string
	mu     struct {
		sync.Mutex
		starts map[*time.Time]bool // of the blob writes in flight
	}
}

// Now reads the store's clock under the lock, so that a write it does not
// see begins after it and stamps its blobs no earlier.
func (c *janitorClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.storeNow()
	for s := range c.mu.starts {
		if s.Before(now) {
			now = *s
		}
	}
	return now.Add(mcJanitorAge)
}

// writing marks the start of a write that may make blobs, done its end.
func (c *janitorClock) writing() (done func()) {
	start := c.storeNow()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.starts == nil {
		c.mu.starts = map[*time.Time]bool{}
	}
	c.mu.starts[&start] = true
	return func() { c.mu.Lock(); delete(c.mu.starts, &start); c.mu.Unlock() }
}

// storeNow is the earliest ModTime of a blob written from now on, or if it
// cannot be read the zero time, at which the janitor reaps nothing.
func (c *janitorClock) storeNow() time.Time {
	err := os.WriteFile(c.marker, []byte("now"), 0o644)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(c.marker); err == nil {
			return fi.ModTime()
		}
	}
	c.t.Errorf("janitor clock: %v", err)
	return time.Time{}
}
