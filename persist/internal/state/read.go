package state

import (
	"errors"
	"fmt"

	"github.com/shardflow/shardflow/frontier"
)

// ErrSinceAdvanced: a read asked for an as-of the shard's since has passed.
var ErrSinceAdvanced = errors.New("persist: as-of before the since")

// SinceAdvancedError says which as-of and since conflicted.
type SinceAdvancedError struct {
	AsOf  frontier.Time
	Since Frontier
}

func (e *SinceAdvancedError) Error() string {
	return fmt.Sprintf("persist: as-of %v is before the since %v", e.AsOf, e.Since)
}

// Is makes errors.Is(err, ErrSinceAdvanced) hold.
func (e *SinceAdvancedError) Is(target error) bool { return target == ErrSinceAdvanced }

// Determinate tells location.IsIndeterminate that the read, refused, did
// nothing.
func (e *SinceAdvancedError) Determinate() bool { return true }

// SnapshotBatches returns the batches needed to reconstruct the collection at
// asOf. ready is false while the upper has not passed asOf: the snapshot is
// not yet complete and the caller should wait for more writes. An as-of the
// since has passed is a *SinceAdvancedError.
func (s State) SnapshotBatches(asOf frontier.Time) (batches []Batch, ready bool, err error) {
	if !s.Since.LessEqual(asOf) {
		return nil, false, &SinceAdvancedError{AsOf: asOf, Since: s.Since.Clone()}
	}
	if !beyond(s.Upper, asOf) {
		return nil, false, nil
	}
	for _, b := range s.Batches {
		if b.Lower.LessEqual(asOf) {
			batches = append(batches, b)
		}
	}
	return batches, true, nil
}

// ListenBatch returns the batch that holds the time at the frontier at:
// Lower <= at < Upper. ok is false when no such batch exists yet (the upper
// has not passed at) or when at is the empty frontier.
func (s State) ListenBatch(at Frontier) (Batch, bool) {
	t, ok := at.Single()
	if !ok {
		return Batch{}, false
	}
	for _, b := range s.Batches {
		if b.Lower.LessEqual(t) && beyond(b.Upper, t) {
			return b, true
		}
	}
	return Batch{}, false
}
