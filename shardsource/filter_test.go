package shardsource

import (
	"testing"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
)

// A part of a format this code cannot read is kept whatever the Filter
// would say: its statistics (here a zero diffs sum, which ReplaceWith turns
// into a discard) may mean something else, and dropping it would lose its
// rows without a word. Its fetch then fails, and the source freezes.
func TestFilterKeepsUnknownFormat(t *testing.T) {
	called := 0
	cfg := persistListenConfig(listenConfig[listedPart]{}, func(persist.PartDesc, frontier.Antichain[frontier.Time]) FilterResult {
		called++
		return ReplaceWith([]byte("k"), []byte("v"))
	})
	for _, tc := range []struct {
		format int32
		want   filterDecision
	}{
		{format: 1, want: decideDiscard}, // a zero sum: nothing stands for it
		{format: 42, want: decideKeep},
	} {
		p := listedPart{leased: persist.LeasedPart{Desc: persist.PartDesc{Format: tc.format, MaxTime: 3, DiffsSum: 0}}}
		if _, got := cfg.filter(p, true, 5); got != tc.want {
			t.Errorf("format %d: decision %v, want %v", tc.format, got, tc.want)
		}
	}
	if called != 1 {
		t.Errorf("the Filter ran %d times, want once (not for format 42)", called)
	}
}
