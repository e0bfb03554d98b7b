package shardsource

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/codec"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/mem"
)

const testShard persist.ShardID = "s"

// env is a shard in memory and a client of it.
type env struct {
	t      testing.TB
	blob   location.Blob
	loc    persist.Location
	client *persist.Client
	writer *persist.WriteHandle
}

func newEnv(t testing.TB) *env {
	return newEnvWithBlob(t, mem.NewBlob())
}

func newEnvWithBlob(t testing.TB, blob location.Blob) *env {
	return newEnvOpts(t, blob, 0)
}

// newEnvOpts is newEnvWithBlob with parts split at partSize bytes (0: the
// default, one part per batch for small batches). Every part is a blob and
// batches are never merged, so each test controls what its fetches read
// (through a slow blob, say) and which blob goes missing; newEnvClient
// chooses otherwise.
func newEnvOpts(t testing.TB, blob location.Blob, partSize int64) *env {
	return newEnvClient(t, blob, persist.ClientOptions{PartTargetSize: partSize, InlineWriteMaxBytes: -1, MergeFanIn: -1})
}

// newEnvClient is an env whose client has opts, with the test env's lease
// and polling.
func newEnvClient(t testing.TB, blob location.Blob, opts persist.ClientOptions) *env {
	loc := persist.Location{Blob: blob, Consensus: mem.NewConsensus()}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = time.Hour
	}
	opts.ListenPollMin, opts.ListenPollMax = time.Millisecond, 5*time.Millisecond
	c := persist.NewClient(loc, opts)
	w, err := c.OpenWriter(context.Background(), testShard)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, blob: blob, loc: loc, client: c, writer: w}
	t.Cleanup(func() { _ = loc.Close() })
	return e
}

func (e *env) clientFn() ClientFunc {
	return func(context.Context) (*persist.Client, error) { return e.client, nil }
}

// appendAt appends the rows (all at times in [lower, upper)) as one batch.
func (e *env) appendAt(lower, upper frontier.Time, rows ...Row) {
	e.t.Helper()
	us := make([]persist.Update, len(rows))
	for i, r := range rows {
		us[i] = persist.Update{Key: r.Key, Val: r.Val, Time: r.Time, Diff: r.Diff}
	}
	if err := e.writer.CompareAndAppend(context.Background(), us, frontier.From(lower), frontier.From(upper)); err != nil {
		e.t.Fatal(err)
	}
}

// holdSince registers a reader whose since is moved to since, so the
// shard's since is at least there; it is expired at cleanup.
func (e *env) holdSince(since frontier.Time) {
	e.t.Helper()
	ctx := context.Background()
	r, err := e.client.OpenReader(ctx, testShard, "test since holder")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := r.DowngradeSince(ctx, frontier.From(since)); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = r.Expire(context.Background()) })
}

// partKeysAt returns the blob keys of the parts of the batch whose lower is
// at lower.
func (e *env) partKeysAt(lower frontier.Time) []string {
	e.t.Helper()
	st, err := e.client.State(context.Background(), testShard)
	if err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, b := range st.Batches {
		if b.Lower.Equal(frontier.From(lower)) {
			for _, p := range b.Parts {
				keys = append(keys, p.Key)
			}
		}
	}
	if len(keys) == 0 {
		e.t.Fatalf("no part in a batch at lower %d", lower)
	}
	return keys
}

func (e *env) deleteBlobsAt(lower frontier.Time) {
	e.t.Helper()
	for _, k := range e.partKeysAt(lower) {
		existed, err := e.blob.Delete(context.Background(), k)
		if err != nil {
			e.t.Fatal(err)
		}
		if !existed {
			e.t.Fatalf("part %s at %d has no blob to delete", k, lower)
		}
	}
}

func (e *env) readers() int {
	st, err := e.client.State(context.Background(), testShard)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(st.Readers)
}

func row(key string, t frontier.Time, diff int64) Row {
	return Row{Key: []byte(key), Val: []byte("v"), Time: t, Diff: diff}
}

// output collects what a source emits on one worker.
type output struct {
	rows []Row
	// violations records rows at a time before their message's time.
	violations []string
}

// collect consumes parts, copying their rows and releasing them. Its
// output carries nothing; its frontier is that of collect's input, so a
// probe on it passes a time only once collect has consumed every part
// there (a probe on the parts stream itself may pass a time while parts
// still wait in collect's queue on another worker).
func collect(s *dataflow.Scope[frontier.Time], parts *dataflow.Stream[frontier.Time, *Part[string, string]], probe *dataflow.ProbeHandle[frontier.Time]) *output {
	out := &output{}
	b := dataflow.NewBuilder(s, "collect")
	in := dataflow.AddInput(b, parts, dataflow.Pipeline[*Part[string, string]]())
	_, done := dataflow.AddOutput[struct{}](b)
	dataflow.ProbeWith(done, probe)
	b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
		caps[0].Drop()
		return func() {
			in.ForEach(func(ref dataflow.CapabilityRef[frontier.Time], ps []*Part[string, string]) {
				for _, p := range ps {
					for i := range p.Len() {
						k, v, ti, d, err := p.Decode(i)
						if err != nil {
							panic(err)
						}
						if ti < ref.Time() {
							out.violations = append(out.violations, fmt.Sprintf("row %s@%d in a message at %d", k, ti, ref.Time()))
						}
						out.rows = append(out.rows, Row{Key: []byte(k), Val: []byte(v), Time: ti, Diff: d})
					}
					p.Release()
				}
			})
		}
	})
	return out
}

// consolidated sums rows by (key, val, time) and drops zeros, sorted.
func consolidated(rows []Row) []string {
	sum := map[string]int64{}
	for _, r := range rows {
		sum[fmt.Sprintf("%s/%s@%d", r.Key, r.Val, r.Time)] += r.Diff
	}
	var out []string
	for k, d := range sum {
		if d != 0 {
			out = append(out, fmt.Sprintf("%s%+d", k, d))
		}
	}
	slices.Sort(out)
	return out
}

// single is one worker running one source, stepped by the test.
type single struct {
	t      testing.TB
	w      *dataflow.Worker
	probe  *dataflow.ProbeHandle[frontier.Time]
	out    *output
	tokens *Tokens
}

func stringOpts(opts Options[string, string]) Options[string, string] {
	opts.KeyCodec, opts.ValCodec = codec.String{}, codec.String{}
	return opts
}

func runSingle(t testing.TB, e *env, opts Options[string, string]) *single {
	w := dataflow.NewWorker()
	r := &single{t: t, w: w, probe: dataflow.NewProbeHandle[frontier.Time]()}
	dataflow.Dataflow(w, "test", func(s *dataflow.Scope[frontier.Time]) {
		parts, tokens := Source(s, "test_source", e.clientFn(), testShard, stringOpts(opts))
		r.out = collect(s, parts, r.probe)
		r.tokens = tokens
	})
	t.Cleanup(r.shutdown)
	return r
}

// stepUntil steps until cond holds, parking briefly when idle (a source
// goroutine's SyncActivator wakes the worker at once).
func (r *single) stepUntil(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s; frontier %v", what, r.probe.Frontier())
		}
		r.w.StepOrPark(10 * time.Millisecond)
	}
}

// quiesce steps until the worker is idle and the source's goroutines are
// settled: nothing can happen any more without outside input.
func (r *single) quiesce() {
	r.t.Helper()
	r.stepUntil("quiescence", func() bool { return r.tokens.Settled() && r.w.Idle() })
}

// shutdown drops the tokens and steps until the dataflow completes.
func (r *single) shutdown() {
	if r.tokens == nil {
		return
	}
	r.tokens.Drop()
	r.tokens = nil
	deadline := time.Now().Add(20 * time.Second)
	for r.w.StepOrPark(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("dataflow did not complete after shutdown; live: %v", r.w.LiveCapabilities())
		}
	}
	if err := r.w.Close(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *single) frontier() frontier.Antichain[frontier.Time] { return r.probe.Frontier() }
