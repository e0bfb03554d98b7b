package persist

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/shardflow/shardflow/persist/internal/part"
)

// Clock tells the time: reader and writer leases read ClientOptions.Clock,
// the janitor's minimum age ClientOptions.BlobClock.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// ClientOptions configure a Client. Zero fields take the defaults.
type ClientOptions struct {
	// Clock for lease heartbeats and expiry (default: the system clock).
	Clock Clock
	// BlobClock is the clock that stamps the blob store's modification
	// times, which the janitor compares with its minimum age (default: the
	// system clock). It is not Clock: moving Clock forward to expire
	// leases must not make a part written a moment ago look old enough to
	// reap.
	BlobClock Clock
	// LeaseDuration is how long a reader or writer stays registered
	// without a heartbeat (default 15 minutes). State keeps it in whole
	// milliseconds, rounded up. A reader that has not heartbeated for
	// half of it reads state from consensus on every Snapshot and Listen
	// poll, not from the client's cache, in case it has been expired.
	LeaseDuration time.Duration
	// PartTargetSize is the encoded size parts are split at (default
	// part.DefaultTargetSize, 128 MiB).
	PartTargetSize int64
	// ListenPollMin and ListenPollMax bound the capped exponential backoff
	// of a Snapshot or Listen waiting for a write by another process
	// (defaults 10ms and 1s; one set alone bounds the other's default, and
	// a max below the min is raised to it). Writes through the same Client
	// wake them at once.
	ListenPollMin, ListenPollMax time.Duration
	// CASRetries bounds the retries of a transition after indeterminate
	// consensus errors (default 5). Lost races retry without bound.
	CASRetries int
	// InlineWriteMaxBytes is the largest encoded part an append keeps in
	// the shard's state instead of writing a blob (default 4 KiB; negative:
	// never). A small append then costs one compare-and-set and no blob
	// write. InlineTotalMaxBytes bounds the inline bytes of one shard's
	// state (default 256 KiB): beyond it appends write blobs until merging
	// moves inline parts out. An append that finds, at its
	// compare-and-set, that others have filled the room its client's
	// cached state showed writes its part to blob and tries again, so no
	// append takes the state past its client's cap.
	InlineWriteMaxBytes, InlineTotalMaxBytes int64
	// MergeFanIn is how many consecutive batches of about the same size a
	// writer lets accumulate before it merges them into one batch, right
	// after the append that completed the run (default 8; negative: never).
	// It keeps a shard's state, which every append rewrites, logarithmic in
	// the shard's size however small its appends are, and moves inline
	// parts into blobs. A merge never combines more than PartTargetSize
	// bytes.
	MergeFanIn int
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.BlobClock == nil {
		o.BlobClock = systemClock{}
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 15 * time.Minute
	}
	// State records a lease in milliseconds, and a lease of 0 there never
	// ends: a 500us lease must not round down to that.
	if r := o.LeaseDuration % time.Millisecond; r != 0 && o.LeaseDuration < math.MaxInt64-time.Millisecond {
		o.LeaseDuration += time.Millisecond - r
	}
	if o.PartTargetSize <= 0 {
		o.PartTargetSize = part.DefaultTargetSize
	}
	// ListenPollMax 5ms alone caps the polls at 5ms, whatever the
	// default min.
	o.ListenPollMin, o.ListenPollMax = pollBounds(10*time.Millisecond, time.Second, o.ListenPollMin, o.ListenPollMax)
	if o.CASRetries <= 0 {
		o.CASRetries = 5
	}
	if o.InlineWriteMaxBytes == 0 {
		o.InlineWriteMaxBytes = 4 << 10
	}
	if o.InlineTotalMaxBytes == 0 {
		o.InlineTotalMaxBytes = 256 << 10
	}
	if o.MergeFanIn == 0 {
		o.MergeFanIn = 8
	}
	return o
}

// Client reads and writes the shards of one Location. It caches the latest
// state of each shard it has touched and wakes its own Listens when its own
// writers append. A Client starts no goroutines and is safe for concurrent
// use.
type Client struct {
	loc  Location
	opts ClientOptions

	mu struct {
		sync.Mutex
		machines map[ShardID]*machine
	}
}

// NewClient returns a client of loc. The client does not own loc: closing
// it is the caller's job.
func NewClient(loc Location, opts ClientOptions) *Client {
	c := &Client{loc: loc, opts: opts.withDefaults()}
	c.mu.machines = map[ShardID]*machine{}
	return c
}

// Location returns the client's location.
func (c *Client) Location() Location { return c.loc }

func (c *Client) nowMs() int64 { return c.opts.Clock.Now().UnixMilli() }

func (c *Client) machine(shard ShardID) (*machine, error) {
	if err := shard.Validate(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.mu.machines[shard]
	if !ok {
		m = newMachine(c, shard)
		c.mu.machines[shard] = m
	}
	return m, nil
}

// ListShards returns the ids of every shard with state in consensus, sorted.
func (c *Client) ListShards(ctx context.Context) ([]ShardID, error) {
	keys, err := c.loc.Consensus.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("persist: list shards: %w", err)
	}
	var out []ShardID
	for _, k := range keys {
		if id := ShardID(k); id.Validate() == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}
