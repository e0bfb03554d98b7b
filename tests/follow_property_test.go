package tests

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/dataflow"
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location/mem"
	"github.com/shardflow/shardflow/shardsource"
	"github.com/shardflow/shardflow/shardsource/shardsourcetest"
)

var (
	followSeed   = flag.Uint64("follow.seed", 0, "run TestFollowProperty's round with this seed only")
	followRounds = flag.Int("follow.rounds", 0, "rounds of TestFollowProperty (default 100; 20 with -short)")
)

// followWait bounds every wait of a round for a condition: far above what
// a round needs, far below a hang.
const followWait = 20 * time.Second

// TestFollowProperty runs a shardsource following a shard while a writer
// appends random batches (retractions, empty batches, random widths) and
// merges them at a small fan-in, compaction and GC run, and a second reader
// moves the since: interleaved with the source's steps on the test's
// goroutine, or concurrently with them. The source stops at a random Until,
// or its tokens are dropped once it has caught up with the writer. Checked
// against a model of the writes: the consolidated output is exactly the
// writes at times in [as_of, until), those at or before as_of advanced to
// it; no row is at a time before its message's; every worker's output
// frontier is monotone, never beyond the shard's upper, and never passes a
// time whose rows have not all been emitted; the source reports no error,
// expires its reader, and leaves the shard whole.
//
// Each round's seed (logged, and in the subtest's name) fixes its scenario
// and the cluster's delivery order; the source's goroutines, and in
// concurrent rounds the writer, still race, so replaying a seed
// (go test ./tests -run TestFollowProperty -follow.seed=N -count=20) may
// take a few tries. -follow.rounds sets how many rounds run.
func TestFollowProperty(t *testing.T) {
	if *followSeed != 0 {
		runFollow(t, *followSeed)
		return
	}
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	if *followRounds > 0 {
		rounds = *followRounds
	}
	base := rand.Uint64() >> 1
	t.Logf("seeds %d..%d (replay one with -follow.seed=N)", base, base+uint64(rounds)-1)
	for i := range uint64(rounds) {
		seed := base + i
		if !t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runFollow(t, seed) }) {
			return
		}
	}
}

type followBatch struct {
	lower, upper frontier.Time
	rows         []persist.Update
}

// followPlan is a round's scenario, drawn from its seed.
type followPlan struct {
	name                          string // the source's, so the chosen worker varies
	workers, fetchConc, resultBuf int
	copts                         persist.ClientOptions
	ownClients                    bool // the writer and maintenance use clients of their own
	concurrent                    bool // the writer runs on a goroutine of its own
	batches                       []followBatch
	prefix                        int // batches appended before the source starts
	asOf                          frontier.Time
	snapshot                      bool
	until                         frontier.Antichain[frontier.Time]
	filter                        string // "": none; "keep": keeps all; else discards parts whose keys all sort after it
	holder                        bool   // a second reader moves the since
	pCompact, pGC, pHolder        int    // per mille, before each append
	gap, pCatchUp                 int    // steps (or yields) between writes; per mille of writes waiting for the source
	pHold                         int    // per mille of the source's blob reads held across the writer's next operations
}

func drawFollowPlan(rng *rand.Rand) followPlan {
	p := followPlan{
		name:      fmt.Sprintf("follow%d", rng.IntN(16)),
		workers:   1 + rng.IntN(3),
		fetchConc: 1 + rng.IntN(4),
		resultBuf: rng.IntN(3),
		copts: persist.ClientOptions{
			MergeFanIn:     2 + rng.IntN(3),
			PartTargetSize: []int64{0, 0, 0, 300, 1500, 4000}[rng.IntN(6)], // merges stop at the target size
			LeaseDuration:  time.Hour,
			ListenPollMin:  time.Millisecond, ListenPollMax: 5 * time.Millisecond,
		},
		ownClients: rng.IntN(2) == 0,
		concurrent: rng.IntN(2) == 0,
		snapshot:   rng.IntN(5) > 0,
		holder:     rng.IntN(2) == 0,
		pCompact:   rng.IntN(400),
		pGC:        rng.IntN(400),
		pHolder:    rng.IntN(500),
		gap:        []int{0, 5, 40, 300}[rng.IntN(4)],
		pCatchUp:   []int{0, 300, 1000}[rng.IntN(3)],
		pHold:      []int{0, 300, 700}[rng.IntN(3)],
	}
	if rng.IntN(2) == 0 {
		p.copts.InlineWriteMaxBytes = -1 // every part a blob, for GC to collect
	}
	var lower frontier.Time
	for range 8 + rng.IntN(32) {
		b := followBatch{lower: lower, upper: lower + frontier.Time(1+rng.IntN(3))}
		rows := rng.IntN(6)
		if rng.IntN(5) == 0 {
			rows = 0
		}
		for range rows {
			b.rows = append(b.rows, persist.Update{
				Key:  fmt.Appendf(nil, "k%d", rng.IntN(8)),
				Val:  fmt.Appendf(nil, "v%d", rng.IntN(2)),
				Time: b.lower + frontier.Time(rng.IntN(int(b.upper-b.lower))),
				Diff: []int64{-2, -1, 1, 1, 2}[rng.IntN(5)],
			})
		}
		p.batches = append(p.batches, b)
		lower = b.upper
	}
	p.prefix = rng.IntN(min(5, len(p.batches)))
	p.asOf = frontier.Time(rng.IntN(int(lower)))
	if rng.IntN(2) == 0 {
		p.until = frontier.From(p.asOf + 1 + frontier.Time(rng.IntN(int(lower-p.asOf)+2)))
	}
	switch rng.IntN(4) {
	case 0:
		p.filter = "keep"
	case 1:
		p.filter = fmt.Sprintf("k%d", rng.IntN(8))
	}
	return p
}

func (p *followPlan) finalUpper() frontier.Time { return p.batches[len(p.batches)-1].upper }

// emitAt is the time the source emits a write at t, if it does.
func (p *followPlan) emitAt(t frontier.Time) (frontier.Time, bool) {
	switch {
	case t <= p.asOf:
		return p.asOf, p.snapshot
	case p.until.LessEqual(t):
		return 0, false
	}
	return t, true
}

// checked reports whether the output must hold a key: a filter that
// discards parts by their key bounds keeps some rows of later keys.
func (p *followPlan) checked(key string) bool {
	return p.filter == "" || p.filter == "keep" || key <= p.filter
}

func (p *followPlan) shardFilter() shardsource.Filter {
	switch p.filter {
	case "":
		return nil
	case "keep":
		return func(persist.PartDesc, frontier.Antichain[frontier.Time]) shardsource.FilterResult {
			return shardsource.Keep()
		}
	}
	cut := p.filter
	return func(d persist.PartDesc, _ frontier.Antichain[frontier.Time]) shardsource.FilterResult {
		if string(d.KeyLower) > cut {
			return shardsource.Discard()
		}
		return shardsource.Keep()
	}
}

type followKey struct {
	key, val string
	t        frontier.Time
}

// followOutput is what the source emitted on one worker, summed.
type followOutput struct {
	sum        map[followKey]int64
	violations []string
}

// collectFollow consumes parts, summing their rows and releasing them. Its
// output carries nothing, so a probe on it passes a time only once every
// part there has been consumed.
func collectFollow(s *dataflow.Scope[frontier.Time], parts *dataflow.Stream[frontier.Time, *shardsource.Part[string, string]], probe *dataflow.ProbeHandle[frontier.Time], p *followPlan) *followOutput {
	out := &followOutput{sum: map[followKey]int64{}}
	b := dataflow.NewBuilder(s, "collect")
	in := dataflow.AddInput(b, parts, dataflow.Pipeline[*shardsource.Part[string, string]]())
	_, done := dataflow.AddOutput[struct{}](b)
	dataflow.ProbeWith(done, probe)
	b.Build(func(caps []*dataflow.Capability[frontier.Time]) func() {
		caps[0].Drop()
		return func() {
			in.ForEach(func(ref dataflow.CapabilityRef[frontier.Time], ps []*shardsource.Part[string, string]) {
				for _, part := range ps {
					for i := range part.Len() {
						k, v, ti, d, err := part.Decode(i)
						switch {
						case err != nil:
							out.violations = append(out.violations, fmt.Sprintf("decode: %v", err))
						case ti < ref.Time():
							out.violations = append(out.violations, fmt.Sprintf("row %s/%s@%d%+d in a message at %d", k, v, ti, d, ref.Time()))
						case ti < p.asOf || p.until.LessEqual(ti) || d == 0:
							out.violations = append(out.violations, fmt.Sprintf("row %s/%s@%d%+d outside [as_of %d, until %v) or of zero diff", k, v, ti, d, p.asOf, p.until))
						}
						out.sum[followKey{k, v, ti}] += d
					}
					part.Release()
				}
			})
		}
	})
	return out
}

func runFollow(t *testing.T, seed uint64) {
	base := goleak.IgnoreCurrent()
	rng := rand.New(rand.NewPCG(seed, 0xf0110))
	p := drawFollowPlan(rng)
	t.Logf("seed %d: %d workers, fetch %d/%d, fan-in %d, part size %d, inline %v, own clients %v, concurrent %v, %d batches (%d before), upper %d, as_of %d, snapshot %v, until %v, filter %q, holder %v, compact/gc/holder %d/%d/%d‰, gap %d, catch-up %d‰, held reads %d‰",
		seed, p.workers, p.fetchConc, p.resultBuf, p.copts.MergeFanIn, p.copts.PartTargetSize, p.copts.InlineWriteMaxBytes >= 0, p.ownClients, p.concurrent,
		len(p.batches), p.prefix, p.finalUpper(), p.asOf, p.snapshot, p.until, p.filter, p.holder, p.pCompact, p.pGC, p.pHolder, p.gap, p.pCatchUp, p.pHold)
	ctx := context.WithValue(t.Context(), driverCtx{}, true) // never held by the gate
	gate := newFollowGate(mem.NewBlob(), p.pHold, seed)
	loc := persist.Location{Blob: gate, Consensus: mem.NewConsensus()}
	defer loc.Close()
	client := persist.NewClient(loc, p.copts)
	d := &followDriver{p: &p, rng: rand.New(rand.NewPCG(seed, 0xd41e)), maint: client, gate: gate}
	if p.ownClients {
		d.maint = persist.NewClient(loc, p.copts)
		d.w = openFollowWriter(t, persist.NewClient(loc, p.copts))
	} else {
		d.w = openFollowWriter(t, client)
	}
	if p.holder {
		h, err := d.maint.OpenReader(ctx, followShard, "tests: follow holder")
		if err != nil {
			t.Fatal(err)
		}
		d.holder = h
	}
	for range p.prefix {
		if err := d.step(ctx); err != nil {
			t.Fatal(err)
		}
	}

	r := newFollowRun(t, &p, d, client, seed)
	// On a failure, stop the writer and the dataflow without checking.
	ctx, cancel := context.WithCancel(ctx)
	writing := false
	done := make(chan error, 1)
	defer func() {
		cancel()
		if writing {
			<-done
		}
		r.abort()
	}()
	if p.concurrent {
		writing = true
		go func() { done <- d.run(ctx, r) }()
		var werr error
		r.tickUntil("the writer's end", func() bool {
			select {
			case werr = <-done:
				writing = false
			default:
			}
			return !writing
		})
		if werr != nil {
			t.Fatalf("writer: %v", werr)
		}
	} else {
		for d.next < len(p.batches) {
			for range r.rng.IntN(p.gap + 1) {
				r.tick()
			}
			if err := d.step(ctx); err != nil {
				t.Fatal(err)
			}
			if r.rng.IntN(1000) < p.pCatchUp {
				r.catchUp()
			}
		}
	}
	gate.open(true)
	if err := d.w.MergeErr(); err != nil {
		t.Fatalf("the writer's last merge: %v", err)
	}

	// The end: the empty frontier at Until, else the shard's upper. Then
	// nothing may arrive any more: a bounded source quiesces; one that
	// follows on has no fetch left to deliver.
	if u, ok := p.until.Single(); ok && u <= p.finalUpper() {
		r.tickUntil("the empty frontier", func() bool { return r.minFront.Load() == math.MaxUint64 })
		if err := shardsourcetest.Quiesce(r.c, r.tokens, followWait); err != nil {
			t.Fatal(err)
		}
	} else {
		r.tickUntil("the final upper", func() bool { return r.minFront.Load() >= uint64(p.finalUpper()) })
		r.tickUntil("the fetches to settle", r.fetchSettled)
	}
	r.checkAll("at the end")
	r.shutdown()
	r.checkAll("after shutdown")

	st, err := client.State(ctx, followShard)
	if err != nil {
		t.Fatal(err)
	}
	for _, rd := range st.Readers {
		if rd.Purpose == r.purpose() {
			t.Fatalf("the source's reader %s outlived the source", rd.ID)
		}
	}
	if v, err := client.Verify(ctx, followShard); err != nil || !v.OK() {
		t.Fatalf("verify: %+v %v", v, err)
	}
	if d.holder != nil {
		if err := d.holder.Expire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d batches left of %d, %d compactions merged, %d blobs collected, holder moved %d times",
		len(st.Batches), len(p.batches), d.compacted.Load(), d.collected.Load(), d.holderMoves)
	if err := goleak.Find(base); err != nil {
		t.Fatal(err)
	}
}

const followShard persist.ShardID = "follow"
