package persist

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/mem"
)

func TestMain(m *testing.M) {
	if crashChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

// manualClock is a Clock tests move by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock() *manualClock {
	return &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	clock *manualClock
	blob  *mem.Blob
	cons  *mem.Consensus
	loc   Location
}

// blobParts are client options that write every part to a blob and never
// merge batches: for tests about the blobs themselves.
var blobParts = ClientOptions{InlineWriteMaxBytes: -1, MergeFanIn: -1}

func newEnv() *env {
	clk := newManualClock()
	b := mem.NewBlobWithClock(clk.Now)
	c := mem.NewConsensus()
	return &env{clock: clk, blob: b, cons: c, loc: Location{Blob: b, Consensus: c}}
}

func (e *env) client(opts ClientOptions) *Client { return e.clientOn(e.loc.Blob, opts) }

// clientOn is client with blob in place of e.loc.Blob.
func (e *env) clientOn(blob location.Blob, opts ClientOptions) *Client {
	if opts.Clock == nil {
		opts.Clock = e.clock
	}
	if opts.BlobClock == nil {
		opts.BlobClock = e.clock // e.blob stamps ModTime with it
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = time.Minute
	}
	if opts.ListenPollMin == 0 {
		opts.ListenPollMin, opts.ListenPollMax = time.Millisecond, 5*time.Millisecond
	}
	return NewClient(Location{Blob: blob, Consensus: e.loc.Consensus}, opts)
}

func ts(t frontier.Time) Frontier { return frontier.From(t) }

func up(key, val string, t frontier.Time, diff int64) Update {
	return Update{Key: []byte(key), Val: []byte(val), Time: t, Diff: diff}
}

// row is a consolidated (key, val, time) with its diff, for comparing
// contents.
type row struct {
	Key, Val string
	Time     frontier.Time
}

type contents map[row]int64

func (c contents) add(key, val string, t frontier.Time, d int64) {
	r := row{key, val, t}
	c[r] += d
	if c[r] == 0 {
		delete(c, r)
	}
}

func (c contents) String() string {
	var lines []string
	for r, d := range c {
		lines = append(lines, fmt.Sprintf("(%s,%s,%d)%+d", r.Key, r.Val, r.Time, d))
	}
	sort.Strings(lines)
	return fmt.Sprint(lines)
}

func equalContents(a, b contents) bool {
	if len(a) != len(b) {
		return false
	}
	for r, d := range a {
		if b[r] != d {
			return false
		}
	}
	return true
}

// fetchAll fetches every part, adds its rows to a contents and releases
// the leases.
func fetchAll(ctx context.Context, c *Client, parts []LeasedPart) (contents, error) {
	out := contents{}
	for _, p := range parts {
		f, err := c.FetchLeased(ctx, p)
		if err != nil {
			return nil, err
		}
		for i := range f.Len() {
			if f.Diff(i) == 0 {
				return nil, fmt.Errorf("fetched a zero diff")
			}
			if i > 0 {
				// Sorted, one row per (key, val, time) unless their
				// diffs would sum out of range (see FetchedPart).
				c := compareUpdates(Update{Key: f.Key(i - 1), Val: f.Val(i - 1), Time: f.Time(i - 1)},
					Update{Key: f.Key(i), Val: f.Val(i), Time: f.Time(i)})
				if _, fits := addDiffs(f.Diff(i-1), f.Diff(i)); c > 0 || c == 0 && fits {
					return nil, fmt.Errorf("fetched part %s not consolidated at row %d", p.Desc.Key, i)
				}
			}
			out.add(string(f.Key(i)), string(f.Val(i)), f.Time(i), f.Diff(i))
		}
		f.Release()
		p.Lease.Release()
	}
	return out, nil
}

// snapshotContents reads r's snapshot at asOf and fetches every part.
func snapshotContents(t *testing.T, c *Client, r *ReadHandle, asOf frontier.Time) contents {
	t.Helper()
	parts, err := r.Snapshot(context.Background(), asOf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fetchAll(context.Background(), c, parts)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func blobCount(t *testing.T, b location.Blob, prefix string) int {
	t.Helper()
	n := 0
	if err := b.List(context.Background(), prefix, func(location.BlobMeta) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually steps until cond holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func uint64Time(i int) frontier.Time { return frontier.Time(i) }

func locationIsIndeterminate(err error) bool { return location.IsIndeterminate(err) }

// noWatch hides a consensus's Watcher so readers must poll.
type noWatch struct{ location.Consensus }

// mustConsolidate is consolidate for updates whose sums fit.
func mustConsolidate(t testing.TB, us []Update) []Update {
	t.Helper()
	out, err := consolidate(us)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
