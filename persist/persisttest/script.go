package persisttest

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/shardflow/shardflow/persist/location"
)

//go:embed testdata/consensus.txt
var consensusScript string

// consensusScriptTest runs testdata/consensus.txt: the contract as a
// sequence of operations and their printed outcomes.
func consensusScriptTest(t *testing.T, c location.Consensus) {
	datadriven.RunTestFromString(t, consensusScript, func(t *testing.T, d *datadriven.TestData) string {
		ctx := t.Context()
		var key string
		if d.HasArg("key") {
			d.ScanArgs(t, "key", &key)
		}
		switch d.Cmd {
		case "head":
			v, ok, err := c.Head(ctx, key)
			if err != nil {
				return describeErr(err)
			}
			if !ok {
				return "none"
			}
			return fmt.Sprintf("%d %s", v.SeqNo, v.Data)
		case "cas":
			var (
				exp, data string
				next      uint64
			)
			d.ScanArgs(t, "expected", &exp)
			d.ScanArgs(t, "seqno", &next)
			d.ScanArgs(t, "data", &data)
			var expected *location.SeqNo
			if exp != "none" {
				var e uint64
				if _, err := fmt.Sscan(exp, &e); err != nil {
					t.Fatalf("%s: expected=%q", d.Pos, exp)
				}
				expected = seq(location.SeqNo(e))
			}
			res, err := c.CompareAndSet(ctx, key, expected, location.VersionedData{SeqNo: location.SeqNo(next), Data: []byte(data)})
			if err != nil {
				return describeErr(err)
			}
			return res.String()
		case "scan":
			var (
				from  uint64
				limit int
			)
			d.ScanArgs(t, "from", &from)
			d.ScanArgs(t, "limit", &limit)
			vs, err := c.Scan(ctx, key, location.SeqNo(from), limit)
			if err != nil {
				return describeErr(err)
			}
			var b strings.Builder
			for _, v := range vs {
				fmt.Fprintf(&b, "%d %s\n", v.SeqNo, v.Data)
			}
			return b.String()
		case "truncate":
			var s uint64
			d.ScanArgs(t, "seqno", &s)
			n, err := c.Truncate(ctx, key, location.SeqNo(s))
			if err != nil {
				return describeErr(err)
			}
			return fmt.Sprintf("deleted %d", n)
		case "list-keys":
			keys, err := c.ListKeys(ctx)
			if err != nil {
				return describeErr(err)
			}
			slices.Sort(keys)
			return strings.Join(keys, "\n")
		}
		t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
		return ""
	})
}

// describeErr prints an error by its classification and cause, which are
// the same on every backend (its message is not).
func describeErr(err error) string {
	kind := "determinate"
	if location.IsIndeterminate(err) {
		kind = "indeterminate"
	}
	for _, s := range []error{location.ErrSeqNoNotIncreasing, location.ErrTruncateBeyondHead, location.ErrClosed, location.ErrSeqNoTooLarge} {
		if errors.Is(err, s) {
			return fmt.Sprintf("error: %s, %s", kind, strings.TrimPrefix(s.Error(), "location: "))
		}
	}
	return fmt.Sprintf("error: %s, %v", kind, err)
}
