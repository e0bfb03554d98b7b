package shardsource

import (
	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/codec"
)

// Desc is one part on its way from the descs operator to the fetch
// operator, exchanged to Worker. It carries no lease: the descs operator
// keeps the lease until every fetch at the part's time is done.
type Desc struct {
	// Worker is the worker that fetches the part.
	Worker int
	Shard  persist.ShardID
	Part   persist.PartDesc
	Filter persist.FetchFilter
	// Replacement, when not nil, stands in for the part (Filter returned
	// ReplaceWith): nothing is fetched.
	Replacement *Row
	// listed is the time the descs operator sent the desc at, which a
	// DescTransformer must keep (see Options.DescTransformer).
	listed frontier.Time
}

// Row is one update of a shard, as bytes.
type Row struct {
	Key, Val []byte
	Time     frontier.Time
	Diff     int64
}

// Part is the rows of one fetched part that the source's read selects: for
// a snapshot part, its rows at or before as_of, advanced to as_of; for a
// listen part, its rows after as_of and not before the batch's lower; in
// both cases minus the rows at or beyond Until. Rows are sorted by (key,
// val) and consolidated.
//
// Key and Val return slices into the decoded part, valid until Release; Decode
// copies out Go values with the source's codecs. The consumer owns a Part
// and calls Release when done with it, so its buffers can be reused; a
// released Part is empty (Len 0), which is why a stream of parts must have
// one consumer (see Source).
type Part[K, V any] struct {
	fetched *persist.FetchedPart
	// rows lists the rows of fetched kept under Until; nil means all.
	rows        []int32
	replacement *Row
	keys        codec.Codec[K]
	vals        codec.Codec[V]
}

func newPart[K, V any](fp *persist.FetchedPart, until frontier.Antichain[frontier.Time], keys codec.Codec[K], vals codec.Codec[V]) *Part[K, V] {
	p := &Part[K, V]{fetched: fp, keys: keys, vals: vals}
	if u, ok := until.Single(); ok && fp.MaxTime() >= u {
		n := fp.Len()
		cut := false
		for i := range n {
			if fp.Time(i) >= u {
				cut = true
				break
			}
		}
		if cut {
			p.rows = make([]int32, 0, n)
			for i := range n {
				if fp.Time(i) < u {
					p.rows = append(p.rows, int32(i))
				}
			}
		}
	}
	return p
}

func replacementPart[K, V any](r *Row, keys codec.Codec[K], vals codec.Codec[V]) *Part[K, V] {
	return &Part[K, V]{replacement: r, keys: keys, vals: vals}
}

func (p *Part[K, V]) row(i int) int {
	if p.rows == nil {
		return i
	}
	return int(p.rows[i])
}

// Len returns the number of rows.
func (p *Part[K, V]) Len() int {
	switch {
	case p.replacement != nil:
		return 1
	case p.fetched == nil:
		return 0
	case p.rows != nil:
		return len(p.rows)
	}
	return p.fetched.Len()
}

// Key returns the encoded key of row i.
func (p *Part[K, V]) Key(i int) []byte {
	if p.replacement != nil {
		return p.replacement.Key
	}
	return p.fetched.Key(p.row(i))
}

// Val returns the encoded value of row i.
func (p *Part[K, V]) Val(i int) []byte {
	if p.replacement != nil {
		return p.replacement.Val
	}
	return p.fetched.Val(p.row(i))
}

// Time returns the time of row i.
func (p *Part[K, V]) Time(i int) frontier.Time {
	if p.replacement != nil {
		return p.replacement.Time
	}
	return p.fetched.Time(p.row(i))
}

// Diff returns the diff of row i.
func (p *Part[K, V]) Diff(i int) int64 {
	if p.replacement != nil {
		return p.replacement.Diff
	}
	return p.fetched.Diff(p.row(i))
}

// Decode returns row i decoded with the source's codecs. A row that does
// not decode is an error wrapping codec.ErrMalformed.
func (p *Part[K, V]) Decode(i int) (key K, val V, t frontier.Time, diff int64, err error) {
	if p.keys == nil || p.vals == nil {
		panic("shardsource: Decode without KeyCodec and ValCodec in the Options")
	}
	if key, err = p.keys.Decode(p.Key(i)); err != nil {
		return key, val, 0, 0, err
	}
	if val, err = p.vals.Decode(p.Val(i)); err != nil {
		return key, val, 0, 0, err
	}
	return key, val, p.Time(i), p.Diff(i), nil
}

// Release returns the part's buffers for reuse; its rows are invalid
// afterwards. Releasing twice is harmless.
func (p *Part[K, V]) Release() {
	if p.fetched != nil {
		p.fetched.Release()
		p.fetched = nil
	}
	p.rows, p.replacement = nil, nil
}
