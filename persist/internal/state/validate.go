package state

import (
	"fmt"
	"slices"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location"
)

func locationSeqNo(v uint64) location.SeqNo { return location.SeqNo(v) }

// validate checks the structural invariants every decoded state must hold,
// so that bad bytes are an error here and never a panic later: batches are
// contiguous from some lower up to the shard's upper, readers and writers
// are sorted and unique. (That each frontier has at most one time is
// checked on the bytes, by checkFrontiers: a decoded frontier keeps only
// its least.)
func (s State) validate() error {
	for i, b := range s.Batches {
		if !frontier.LessEqual(b.Lower, b.Upper) {
			return fmt.Errorf("batch %d: lower %v beyond upper %v", i, b.Lower, b.Upper)
		}
		if i > 0 && !s.Batches[i-1].Upper.Equal(b.Lower) {
			return fmt.Errorf("batch %d: lower %v is not the previous upper %v", i, b.Lower, s.Batches[i-1].Upper)
		}
		for _, p := range b.Parts {
			if p.Key == "" {
				return fmt.Errorf("batch %d: part without a key", i)
			}
			// Formats this code does not know may use the field as they like.
			if (p.IsInline() && p.Inline == nil) || (p.Format == FormatParquetV1 && p.Inline != nil) {
				return fmt.Errorf("batch %d: part %s: format %d with %d inline bytes", i, p.Key, p.Format, len(p.Inline))
			}
		}
	}
	if n := len(s.Batches); n > 0 && !s.Batches[n-1].Upper.Equal(s.Upper) {
		return fmt.Errorf("last batch upper %v is not the shard upper %v", s.Batches[n-1].Upper, s.Upper)
	}
	if !slices.IsSortedFunc(s.Readers, func(a, b Reader) int { return compareString(a.ID, b.ID) }) ||
		!slices.IsSortedFunc(s.Writers, func(a, b Writer) int { return compareString(a.ID, b.ID) }) {
		return fmt.Errorf("readers or writers not sorted by id")
	}
	for i := 1; i < len(s.Readers); i++ {
		if s.Readers[i].ID == s.Readers[i-1].ID {
			return fmt.Errorf("reader %q twice", s.Readers[i].ID)
		}
	}
	for i := 1; i < len(s.Writers); i++ {
		if s.Writers[i].ID == s.Writers[i-1].ID {
			return fmt.Errorf("writer %q twice", s.Writers[i].ID)
		}
	}
	for _, r := range s.Readers {
		if r.Since.Len() > 1 {
			return fmt.Errorf("reader %q: since with more than one element", r.ID)
		}
	}
	return nil
}

// CheckInvariants panics if s breaks an invariant. Transitions call it when
// built with the invariants tag.
func (s State) CheckInvariants() {
	if err := s.validate(); err != nil {
		panic("persist: state invariant broken: " + err.Error())
	}
	if err := s.checkReaderSinces(); err != nil {
		panic("persist: state invariant broken: " + err.Error())
	}
}

// checkReaderSinces reports a reader whose since is before the shard's,
// which no transition makes (the shard's since is their meet). Decode does
// not refuse such a state, which the encoding can hold, so that a shard
// whose state some other writer got wrong still reads.
func (s State) checkReaderSinces() error {
	for _, r := range s.Readers {
		if !frontier.LessEqual(s.Since, r.Since) {
			return fmt.Errorf("reader %q since %v before shard since %v", r.ID, r.Since, s.Since)
		}
	}
	return nil
}
