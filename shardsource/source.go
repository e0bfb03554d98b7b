package shardsource

import (
	"context"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/lease"
	"github.com/shardflow/shardflow/persist"
)

// Source builds a source of shard in s and returns the stream of its fetched
// parts and the tokens that shut it down. Every worker must call it, with
// the same name and options (the usual rule for building dataflows).
//
// The stream's frontier follows the shard's upper from as_of on; parts are
// emitted at the frontier at which the source learned of them (the
// snapshot's at as_of), so the times of their rows are at or beyond the
// part's message time. A consumer owns each *Part and releases it, so the
// stream must have one consumer: two operators reading it would share each
// *Part, and the first to release it would empty it for the other. To feed
// several, read the rows once (Decode, or Key and Val) and send them on.
//
// client is called on the source's goroutines, never on the worker's.
func Source[K, V any](s *dataflow.Scope[frontier.Time], name string, client ClientFunc, shard persist.ShardID, opts Options[K, V]) (*dataflow.Stream[frontier.Time, *Part[K, V]], *Tokens) {
	opts = opts.withDefaults()
	chosen := ChosenWorker(name, s.Peers())
	inst := &instance{name: name, handler: opts.ErrorHandler}

	// The completed-fetches edge feeds the descs operator's disconnected
	// input, so it may keep times as they are: an advancing summary
	// would overflow at the largest time and empty that input's frontier
	// while a fetch there is still running.
	loop, completedFeedback := dataflow.Feedback[struct{}](s, nil)
	log := opts.Logger.With("source", name, "shard", string(shard))

	cfg := listenConfig[listedPart]{
		open: func(ctx context.Context) (shardReader[listedPart], error) {
			return openPersistReader(ctx, client, shard, "shardsource("+name+")", opts.Unregistered, opts.HeartbeatInterval, opts.ListenRetry, log)
		},
		asOf:          opts.AsOf,
		until:         opts.Until.Clone(),
		snapshot:      opts.Snapshot == SnapshotInclude,
		startSignal:   opts.StartSignal,
		unheld:        opts.Unregistered,
		workers:       s.Peers(),
		expireTimeout: opts.ExpireTimeout,
		log:           log,
	}
	cfg = persistListenConfig(cfg, opts.Filter)
	descs, descsToken := buildDescs(s, name, chosen, completedFeedback, inst, cfg, Desc{Shard: shard})
	if opts.DescTransformer != nil {
		descs = opts.DescTransformer(s, descs, chosen)
	}

	clients := &clientOnce{fn: client}
	until := opts.Until.Clone()
	fetch := func(ctx context.Context, d Desc) (*persist.EncodedPart, error) {
		c, err := clients.get(ctx)
		if err != nil {
			return nil, err
		}
		return c.FetchEncoded(ctx, d.Shard, d.Part, d.Filter)
	}
	decode := func(e *persist.EncodedPart) (*Part[K, V], error) {
		fp, err := e.Decode()
		if err != nil {
			return nil, err
		}
		return newPart(fp, until, opts.KeyCodec, opts.ValCodec), nil
	}
	replace := func(r *Row) *Part[K, V] { return replacementPart(r, opts.KeyCodec, opts.ValCodec) }
	parts, completed, fetchToken := buildFetch(descs, name, inst, partFuncs[K, V]{fetch, decode, replace}, opts.FetchConcurrency, opts.ResultBuffer)
	loop.Connect(completed)
	return parts, &Tokens{descs: descsToken, fetch: fetchToken, inst: inst}
}

// ChosenWorker returns the worker that lists the parts of the source called
// name among peers workers.
func ChosenWorker(name string, peers int) int {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int(h.Sum64() % uint64(peers))
}

// Tokens shut a source down. Drop (on every worker that built the source)
// presses both operators' shutdown buttons: once every worker has pressed,
// the source stops its goroutines, drops its capabilities (its frontier
// becomes empty) and expires its reader once no fetch is in flight.
type Tokens struct {
	descs, fetch *dataflow.ShutdownToken
	inst         *instance
}

// Drop presses the source's shutdown buttons on this worker. Any goroutine
// may call it; calling it again does nothing more.
func (t *Tokens) Drop() {
	t.descs.Drop()
	t.fetch.Drop()
}

// Settled reports whether this worker's source goroutines can do nothing
// more by themselves: the listen goroutine (on the chosen worker) has sent
// its last event or stopped, and no fetch is running or about to deliver.
// Tests step a dataflow until every worker is idle and every source is
// settled to reach quiescence without sleeping. It must be called on the
// worker's goroutine.
func (t *Tokens) Settled() bool { return t.inst.settled() }

// FetchSettled is Settled without the listen goroutine: this worker's fetch
// goroutine can deliver nothing more by itself. A source without Until
// follows the shard forever, so its listen goroutine never settles; a
// caller deciding that such a source froze asks this instead. It must be
// called on the worker's goroutine.
func (t *Tokens) FetchSettled() bool { return t.inst.fetchSettled() }

// instance is one worker's share of a source: what its two operators and its
// goroutines have in common.
type instance struct {
	name    string
	handler ErrorHandler
	listen  listenState
	// onPark, if set (by tests, before the first step), sees each lease
	// the descs operator parks and the time of its parts.
	onPark func(ts frontier.Time, l *lease.Lease)
	// peers is every worker's instance of the source in this process;
	// haltFetch stops the fetch goroutines they pool, for good. Both are
	// set while the source is built.
	peers     *peers
	haltFetch func()

	mu struct {
		sync.Mutex
		stopFetcher func()
		settledFn   func() bool
	}
}

func (in *instance) setFetcher(stop func(), settled func() bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.mu.stopFetcher, in.mu.settledFn = stop, settled
}

// report hands err to the error handler. Halt stops the source's
// goroutines on every worker of the process first (see peers.halt), then
// panics.
func (in *instance) report(stage string, t frontier.Time, err error) {
	e := &Error{Source: in.name, Stage: stage, Time: t, Err: err}
	if in.handler.signal != nil {
		in.handler.signal(e)
		return
	}
	in.peers.halt()
	panic(e)
}

// peers is the instances of one source on the workers of this process.
type peers struct {
	mu struct {
		sync.Mutex
		all []*instance
	}
	// frozen is nil until a fetch fails with the handler Signal, then the
	// least time one failed at, on any worker: every worker's fetch
	// operator then holds that time and every later one, and the descs
	// operator sends nothing more there.
	frozen atomic.Pointer[frontier.Time]
}

// freeze records a failed fetch at t.
func (p *peers) freeze(t frontier.Time) {
	for {
		cur := p.frozen.Load()
		if cur != nil && *cur <= t {
			return
		}
		if p.frozen.CompareAndSwap(cur, &t) {
			return
		}
	}
}

// frozenAt returns the least time a fetch failed at, if one did.
func (p *peers) frozenAt() (frontier.Time, bool) {
	if t := p.frozen.Load(); t != nil {
		return *t, true
	}
	return 0, false
}

// Close halts the source once the workers let go of it (see
// dataflow.Shared). For a source that completed or was shut down it does
// nothing; when a worker of Execute aborted, the source's operators run no
// more, and this is what stops its goroutines and expires its reader.
func (p *peers) Close() { p.halt() }

func (p *peers) add(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.all = append(p.mu.all, in)
}

// halt stops the source's goroutines on every worker of the process, for
// good: the pooled fetch goroutines (no fetch is in flight once it
// returns) and then the listen goroutine, which expires the reader. A Halt
// runs it on the failing worker before that worker panics, so nothing of
// the source outlives the failure by more than the abort; Close runs it
// when the workers let go of the source. A worker that goes on stepping
// the source afterwards finds it stopped: it fetches and lists nothing
// more. It is idempotent.
func (p *peers) halt() {
	p.mu.Lock()
	all := slices.Clone(p.mu.all)
	p.mu.Unlock()
	for _, in := range all {
		in.haltFetch()
	}
	for _, in := range all {
		in.stopListen()
	}
}

func (in *instance) stopFetcher() {
	in.mu.Lock()
	stop := in.mu.stopFetcher
	in.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// stopListen stops the listen goroutine and waits for it (it expires the
// reader on its way out); none starts afterwards. It is idempotent, and
// any goroutine may call it.
func (in *instance) stopListen() {
	l := &in.listen
	l.mu.Lock()
	l.mu.closed = true
	started, cancel, done := l.mu.started, l.mu.cancel, l.mu.done
	l.mu.Unlock()
	if !started || l.stopped.Load() {
		return
	}
	cancel()
	<-done
	l.stopped.Store(true)
}

// listenStarted reports whether this worker started a listen goroutine.
func (in *instance) listenStarted() bool {
	in.listen.mu.Lock()
	defer in.listen.mu.Unlock()
	return in.listen.mu.started
}

func (in *instance) settled() bool {
	l := &in.listen
	if in.listenStarted() && !l.stopped.Load() && !l.final.Load() {
		return false
	}
	return in.fetchSettled()
}

func (in *instance) fetchSettled() bool {
	in.mu.Lock()
	settled := in.mu.settledFn
	in.mu.Unlock()
	return settled == nil || settled()
}
