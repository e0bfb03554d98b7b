package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
)

// keyBytes and valBytes are the sizes of generated keys and values.
const keyBytes, valBytes = 16, 16

// shard is a generated shard: part i holds its rows at time i, so the
// shard's upper is Parts and a snapshot as of Parts-1 reads every row.
type shard struct {
	id    persist.ShardID
	rows  int64
	parts []persist.PartDesc
	bytes int64 // blob bytes of all parts
}

// asOf is the time that reads every row; until is the shard's upper.
func (s *shard) asOf() frontier.Time  { return frontier.Time(len(s.parts) - 1) }
func (s *shard) until() frontier.Time { return frontier.Time(len(s.parts)) }

// maxPart returns the largest part's blob bytes and row count.
func (s *shard) maxPart() (bytes, rows int64) {
	for _, p := range s.parts {
		bytes, rows = max(bytes, p.Bytes), max(rows, p.Rows)
	}
	return bytes, rows
}

// shardFor returns the shard of rows rows in parts parts under e's
// location, generating it the first time.
func (e *env) shardFor(ctx context.Context, rows, parts int) (*shard, error) {
	// Unique per Run, so that a Config.Dir reused across runs never meets
	// a shard of an earlier one.
	name := fmt.Sprintf("bench-%d-%d-%d", rows, parts, e.started.UnixNano())
	if s, ok := e.shards[name]; ok {
		return s, nil
	}
	s, err := generate(ctx, e.loc, persist.ShardID(name), rows, parts)
	if err != nil {
		return nil, err
	}
	e.shards[name] = s
	return s, nil
}

// generate writes rows rows of 16-byte keys and values as parts batches
// (one part each, rows spread evenly), and reads back the parts state
// references.
func generate(ctx context.Context, loc persist.Location, id persist.ShardID, rows, parts int) (*shard, error) {
	// Exactly the parts asked for, each a blob: no merging, nothing inline.
	c := persist.NewClient(loc, persist.ClientOptions{MergeFanIn: -1, InlineWriteMaxBytes: -1})
	w, err := c.OpenWriter(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", id, err)
	}
	rng := uint64(0x9E3779B97F4A7C15)
	next := 0
	for i := range parts {
		n := rows/parts + btoi(i < rows%parts)
		ups := make([]persist.Update, n)
		buf := make([]byte, n*(keyBytes+valBytes))
		for j := range ups {
			k := buf[j*(keyBytes+valBytes) : j*(keyBytes+valBytes)+keyBytes]
			v := buf[j*(keyBytes+valBytes)+keyBytes : (j+1)*(keyBytes+valBytes)]
			binary.BigEndian.PutUint64(k, uint64(next))
			rng = xorshift(rng)
			binary.BigEndian.PutUint64(k[8:], rng)
			rng = xorshift(rng)
			binary.BigEndian.PutUint64(v, rng)
			rng = xorshift(rng)
			binary.BigEndian.PutUint64(v[8:], rng)
			ups[j] = persist.Update{Key: k, Val: v, Time: frontier.Time(i), Diff: 1}
			next++
		}
		err := w.CompareAndAppend(ctx, ups, frontier.From(frontier.Time(i)), frontier.From(frontier.Time(i+1)))
		if err != nil {
			return nil, fmt.Errorf("generate %s: append part %d: %w", id, i, err)
		}
	}
	if err := w.Close(ctx); err != nil {
		return nil, fmt.Errorf("generate %s: close writer: %w", id, err)
	}
	st, err := c.State(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", id, err)
	}
	s := &shard{id: id}
	for _, b := range st.Batches {
		for _, p := range b.Parts {
			s.parts = append(s.parts, p)
			s.rows += p.Rows
			s.bytes += p.Bytes
		}
	}
	if s.rows != int64(rows) || len(s.parts) != parts {
		return nil, fmt.Errorf("generate %s: state holds %d rows in %d parts, wrote %d in %d",
			id, s.rows, len(s.parts), rows, parts)
	}
	return s, nil
}

func xorshift(x uint64) uint64 {
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	return x
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// slowGetStarted, when set (by a test, before Run), is called as each
// slow read starts waiting.
var slowGetStarted atomic.Pointer[func()]

// slowBlob is a Blob whose Get waits a fixed latency first, like a remote
// object store. It does not own the wrapped blob: Close does nothing.
type slowBlob struct {
	location.Blob
	latency time.Duration
}

func (b slowBlob) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return b.GetInto(ctx, key, nil)
}

// GetInto waits, then reads like the wrapped blob's GetInto where it has
// one, so a fetch through the wrapper reuses its buffers as it would
// without it.
func (b slowBlob) GetInto(ctx context.Context, key string, dst []byte) ([]byte, bool, error) {
	if f := slowGetStarted.Load(); f != nil {
		(*f)()
	}
	t := time.NewTimer(b.latency)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, false, location.Determinate("get", ctx.Err())
	case <-t.C:
	}
	if g, ok := b.Blob.(location.IntoGetter); ok {
		return g.GetInto(ctx, key, dst)
	}
	return b.Blob.Get(ctx, key)
}

func (b slowBlob) Close() error { return nil }

// newClient returns a client of e's location.
func newClient(e *env) *persist.Client { return persist.NewClient(e.loc, persist.ClientOptions{}) }
