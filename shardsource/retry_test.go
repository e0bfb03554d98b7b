package shardsource

import (
	"testing"
	"time"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
)

// hideWatch hides a consensus's Watcher, so readers must poll.
type hideWatch struct{ location.Consensus }

// The source's ListenRetry, not its client's poll bounds, paces the listen:
// the client here would poll once an hour, and a write by another client
// (which wakes nothing) must still arrive within the test's deadline.
func TestListenRetryPacesPolling(t *testing.T) {
	e := newEnv(t)
	e.appendAt(0, 1, row("a", 0, 1))
	slow := *e
	slow.client = persist.NewClient(persist.Location{Blob: e.loc.Blob, Consensus: hideWatch{e.loc.Consensus}},
		persist.ClientOptions{LeaseDuration: time.Hour, ListenPollMin: time.Hour, ListenPollMax: time.Hour})
	asOf := frontier.From[frontier.Time](0)
	r := runSingle(t, &slow, Options[string, string]{
		AsOf:        &asOf,
		Until:       frontier.From[frontier.Time](3),
		ListenRetry: ListenRetry{Initial: time.Millisecond, Max: 4 * time.Millisecond},
	})
	r.stepUntil("frontier [1]", func() bool { return r.frontier().Equal(frontier.From[frontier.Time](1)) })
	e.appendAt(1, 3, row("b", 2, 1)) // through e's client: the source is not woken
	r.stepUntil("the empty frontier", func() bool { return r.frontier().IsEmpty() })
	got, want := consolidated(r.out.rows), []string{"a/v@0+1", "b/v@2+1"}
	if !equalStrings(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
