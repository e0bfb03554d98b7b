package persist

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/shardflow/shardflow/frontier"
)

// shardModel is the simplest possible shard: every update ever appended.
type shardModel struct {
	updates []Update
	upper   frontier.Time
}

// at is the shard's contents at asOf: every update at t <= asOf, moved to
// asOf and consolidated.
func (m *shardModel) at(asOf frontier.Time) contents {
	out := contents{}
	for _, u := range m.updates {
		if u.Time <= asOf {
			out.add(string(u.Key), string(u.Val), asOf, u.Diff)
		}
	}
	return out
}

type modelReader struct {
	h           *ReadHandle
	since       frontier.Time
	heartbeatMs int64
	expired     bool
}

type heldSnapshot struct {
	r     *modelReader
	asOf  frontier.Time
	parts []LeasedPart
	want  contents
}

// TestShardAgainstModel runs random writers, readers, since downgrades,
// compactions, GC runs and reader expiries against the model: every
// snapshot at a valid as-of equals the model, and a snapshot's leased parts
// held across later GC runs still fetch (unless their reader expired).
func TestShardAgainstModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		e := newEnv()
		const lease = time.Minute
		c := e.client(ClientOptions{
			// Tiny parts (several per batch, never merged: a merge is
			// bounded by the part target) or large ones.
			LeaseDuration: lease, PartTargetSize: rapid.OneOf(rapid.Int64Range(1, 200), rapid.Just[int64](1<<20)).Draw(rt, "partTarget"),
			// Parts inline in state or all in blobs; writers merging runs
			// of batches often, rarely, or never: GC, holds and reads must
			// hold up under each.
			InlineWriteMaxBytes: rapid.SampledFrom([]int64{-1, 0}).Draw(rt, "inlineMax"),
			MergeFanIn:          rapid.SampledFrom([]int{-1, 2, 8}).Draw(rt, "mergeFanIn"),
		})
		m := &shardModel{}
		var writers []*WriteHandle
		var readers []*modelReader
		var held []heldSnapshot
		newWriter := func() {
			w, err := c.OpenWriter(ctx, "s")
			if err != nil {
				rt.Fatal(err)
			}
			writers = append(writers, w)
		}
		newWriter()
		newReader := func() {
			h, err := c.OpenReader(ctx, "s", "model")
			if err != nil {
				rt.Fatal(err)
			}
			readers = append(readers, &modelReader{h: h, since: sinceOf(h), heartbeatMs: e.clock.Now().UnixMilli()})
		}
		newReader()
		liveReader := func(rt *rapid.T) *modelReader {
			var live []*modelReader
			for _, r := range readers {
				if !r.expired {
					live = append(live, r)
				}
			}
			if len(live) == 0 {
				newReader()
				return readers[len(readers)-1]
			}
			return rapid.SampledFrom(live).Draw(rt, "reader")
		}
		keys := []string{"a", "b", "c", "d"}
		rt.Repeat(map[string]func(*rapid.T){
			"append": func(rt *rapid.T) {
				w := rapid.SampledFrom(writers).Draw(rt, "writer")
				n := rapid.IntRange(0, 6).Draw(rt, "rows")
				span := frontier.Time(rapid.IntRange(1, 3).Draw(rt, "span"))
				var us []Update
				for range n {
					us = append(us, up(rapid.SampledFrom(keys).Draw(rt, "key"), rapid.SampledFrom([]string{"", "v"}).Draw(rt, "val"),
						m.upper+frontier.Time(rapid.IntRange(0, int(span)-1).Draw(rt, "dt")), int64(rapid.IntRange(-2, 2).Draw(rt, "diff"))))
				}
				stale := m.upper > 0 && rapid.IntRange(0, 5).Draw(rt, "stale") == 0
				expected := m.upper
				if stale {
					expected = m.upper - 1
					us = nil
				}
				err := w.CompareAndAppend(ctx, us, ts(expected), ts(m.upper+span))
				if stale {
					var um *UpperMismatchError
					if !errors.As(err, &um) || !um.Current.Equal(ts(m.upper)) {
						rt.Fatalf("stale append: %v", err)
					}
					return
				}
				if err != nil {
					rt.Fatal(err)
				}
				m.updates = append(m.updates, us...)
				m.upper += span
			},
			"newWriter": func(rt *rapid.T) { newWriter() },
			"newReader": func(rt *rapid.T) { newReader() },
			"snapshot": func(rt *rapid.T) {
				r := liveReader(rt)
				if m.upper == 0 || m.upper <= r.since {
					return
				}
				asOf := frontier.Time(rapid.IntRange(int(r.since), int(m.upper)-1).Draw(rt, "asOf"))
				parts, err := r.h.Snapshot(ctx, asOf)
				if err != nil {
					rt.Fatalf("snapshot at %d (since %d): %v", asOf, r.since, err)
				}
				if rapid.Bool().Draw(rt, "hold") {
					held = append(held, heldSnapshot{r: r, asOf: asOf, parts: parts, want: m.at(asOf)})
					return
				}
				got, err := fetchAll(ctx, c, parts)
				if err != nil {
					rt.Fatal(err)
				}
				if want := m.at(asOf); !equalContents(got, want) {
					rt.Fatalf("snapshot at %d: got %v want %v", asOf, got, want)
				}
			},
			"snapshotBeforeSince": func(rt *rapid.T) {
				r := liveReader(rt)
				if r.since == 0 {
					return
				}
				if _, err := r.h.Snapshot(ctx, r.since-1); !errors.Is(err, ErrSinceAdvanced) {
					rt.Fatalf("snapshot before since: %v", err)
				}
			},
			"listen": func(rt *rapid.T) {
				r := liveReader(rt)
				if m.upper == 0 || m.upper <= r.since {
					return
				}
				asOf := frontier.Time(rapid.IntRange(int(r.since), int(m.upper)-1).Draw(rt, "asOf"))
				got, err := snapshotAndListen(ctx, c, r.h, asOf, m.upper)
				if err != nil {
					rt.Fatal(err)
				}
				if want := m.at(m.upper - 1); !equalContents(got, want) {
					rt.Fatalf("snapshot at %d + listen to %d: got %v want %v", asOf, m.upper, got, want)
				}
			},
			"fetchHeld": func(rt *rapid.T) {
				if len(held) == 0 {
					return
				}
				i := rapid.IntRange(0, len(held)-1).Draw(rt, "held")
				h := held[i]
				held = append(held[:i], held[i+1:]...)
				got, err := fetchAll(ctx, c, h.parts)
				if err != nil {
					var bm *BlobMissingError
					if h.r.expired && errors.As(err, &bm) && bm.ReaderExpired {
						releaseAll(h.parts)
						return
					}
					rt.Fatalf("held snapshot at %d (reader expired %v): %v", h.asOf, h.r.expired, err)
				}
				if !equalContents(got, h.want) {
					rt.Fatalf("held snapshot at %d: got %v want %v", h.asOf, got, h.want)
				}
			},
			"downgradeSince": func(rt *rapid.T) {
				r := liveReader(rt)
				to := frontier.Time(rapid.IntRange(int(r.since), int(m.upper)).Draw(rt, "since"))
				if err := r.h.DowngradeSince(ctx, ts(to)); err != nil {
					rt.Fatal(err)
				}
				r.since, r.heartbeatMs = to, e.clock.Now().UnixMilli()
			},
			"heartbeat": func(rt *rapid.T) {
				r := liveReader(rt)
				if err := r.h.Heartbeat(ctx); err != nil {
					rt.Fatal(err)
				}
				r.heartbeatMs = e.clock.Now().UnixMilli()
			},
			"advanceClock": func(rt *rapid.T) {
				e.clock.Advance(time.Duration(rapid.IntRange(1, 40).Draw(rt, "seconds")) * time.Second)
			},
			"compact": func(rt *rapid.T) {
				if _, err := c.Compact(ctx, "s"); err != nil {
					rt.Fatal(err)
				}
			},
			"gc": func(rt *rapid.T) {
				rep, err := c.GC(ctx, "s")
				if err != nil {
					rt.Fatal(err)
				}
				now := e.clock.Now().UnixMilli()
				want := map[string]bool{}
				for _, r := range readers {
					if !r.expired && r.heartbeatMs+lease.Milliseconds() < now {
						r.expired = true
						want[r.h.ID()] = true
					}
				}
				if len(rep.ExpiredReaders) != len(want) {
					rt.Fatalf("GC expired %v, want %v", rep.ExpiredReaders, want)
				}
			},
			"": func(rt *rapid.T) {
				st, err := c.State(ctx, "s")
				if err != nil {
					rt.Fatal(err)
				}
				if !st.Upper.Equal(ts(m.upper)) && !(m.upper == 0 && st.Upper.Equal(ts(0))) {
					rt.Fatalf("upper %v, model %d", st.Upper, m.upper)
				}
			},
		})
		for _, h := range held {
			releaseAll(h.parts)
		}
	})
}

func sinceOf(r *ReadHandle) frontier.Time {
	t, _ := r.Since().Single()
	return t
}

func releaseAll(parts []LeasedPart) {
	for _, p := range parts {
		p.Lease.Release()
	}
}

// snapshotAndListen reads the snapshot at asOf and listens until upper,
// returning the contents at upper-1.
func snapshotAndListen(ctx context.Context, c *Client, r *ReadHandle, asOf, upper frontier.Time) (contents, error) {
	parts, err := r.Snapshot(ctx, asOf)
	if err != nil {
		return nil, err
	}
	snap, err := fetchAll(ctx, c, parts)
	if err != nil {
		return nil, err
	}
	final := upper - 1
	out := contents{}
	for k, d := range snap {
		out.add(k.Key, k.Val, final, d)
	}
	l, err := r.Listen(ctx, asOf)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	for !l.Frontier().Equal(ts(upper)) {
		ev, err := l.Next(ctx)
		if err != nil {
			return nil, err
		}
		if ev.Kind != ListenParts {
			continue
		}
		got, err := fetchAll(ctx, c, ev.Parts)
		if err != nil {
			return nil, err
		}
		for k, d := range got {
			if k.Time <= asOf || !ev.Lower.LessEqual(k.Time) || ev.Upper.LessEqual(k.Time) {
				return nil, fmt.Errorf("listen row %v outside (%d, [%v, %v))", k, asOf, ev.Lower, ev.Upper)
			}
			out.add(k.Key, k.Val, final, d)
		}
	}
	return out, nil
}
