// Package shardsourcetest helps tests drive dataflows that read shards with
// shardsource to quiescence without sleeping.
//
// A dataflow with a source is quiescent when no worker has an operator
// activated, no message is in flight between workers, and every source's
// goroutines are settled (shardsource.Tokens.Settled): the listen goroutine
// has sent its last event (a bounded source: Until at or below the shard's
// upper) and no fetch is running or about to deliver. From then on nothing
// happens without outside input, so a test can assert on frontiers (a
// frozen source, say) knowing that no later step would change them.
package shardsourcetest
