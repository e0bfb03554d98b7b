package state

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/location"
)

// TestScenarios runs the transition scenarios in testdata/: each command
// applies one transition to the scenario's state (bumping its seqno as a
// commit would) and prints the outcome and the resulting state.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := New("s")
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			commit := func(n State, changed bool) {
				if changed {
					n.SeqNo = s.SeqNo + 1
					n.CheckInvariants()
					s = n
				}
			}
			str := func(key, def string) string {
				v := def
				d.MaybeScanArgs(t, key, &v)
				return v
			}
			num := func(key string, def uint64) uint64 {
				v := def
				d.MaybeScanArgs(t, key, &v)
				return v
			}
			var out strings.Builder
			switch d.Cmd {
			case "append":
				b := Batch{
					Lower: frontierArg(str("lower", "0")), Upper: frontierArg(str("upper", "")),
					WriterID: str("writer", "w"), Token: str("token", ""),
				}
				for _, k := range strings.Split(str("parts", ""), ",") {
					if k != "" {
						b.Parts = append(b.Parts, Part{Key: k, Format: FormatParquetV1, Rows: 1})
					}
				}
				n, o := s.CompareAndAppend(b, int64(num("now", 0)), 0)
				commit(n, o == Appended)
				fmt.Fprintf(&out, "outcome: %s\n", []string{"", "appended", "already appended", "upper mismatch", "invalid bounds"}[o])
			case "register-reader":
				n, r := s.RegisterReader(str("id", "r"), "", int64(num("now", 0)), int64(num("lease", 1000)))
				commit(n, true)
				fmt.Fprintf(&out, "reader %s: hold %d since %v\n", r.ID, r.SeqNoHold, r.Since)
			case "downgrade":
				n, ok := s.DowngradeSince(str("id", "r"), frontierArg(str("since", "")), location.SeqNo(num("hold", 0)), int64(num("now", 0)))
				commit(n, ok)
				fmt.Fprintf(&out, "ok: %v\n", ok)
			case "heartbeat":
				n, ok := s.HeartbeatReader(str("id", "r"), location.SeqNo(num("hold", 0)), int64(num("now", 0)))
				commit(n, ok)
				fmt.Fprintf(&out, "ok: %v\n", ok)
			case "expire":
				n, ok := s.ExpireReader(str("id", "r"))
				commit(n, ok)
				fmt.Fprintf(&out, "ok: %v\n", ok)
			case "expire-stale":
				n, ids := s.ExpireStale(int64(num("now", 0)))
				commit(n, n.Transitions != s.Transitions)
				fmt.Fprintf(&out, "expired: %v\n", ids)
			case "compact":
				c := Batch{Lower: frontierArg(str("lower", "0")), Upper: frontierArg(str("upper", "")), Since: frontierArg(str("since", "0"))}
				for _, k := range strings.Split(str("parts", ""), ",") {
					if k != "" {
						c.Parts = append(c.Parts, Part{Key: k, Format: FormatParquetV1, Rows: 1})
					}
				}
				var replaced []string
				if r := str("replaced", ""); r != "" {
					replaced = strings.Split(r, ",")
				}
				n, _, ok := s.ApplyCompaction(replaced, c)
				commit(n, ok)
				fmt.Fprintf(&out, "ok: %v\n", ok)
			case "snapshot":
				bs, ready, err := s.SnapshotBatches(frontier.Time(num("as-of", 0)))
				if err != nil {
					return fmt.Sprintf("error: %v\n", err)
				}
				fmt.Fprintf(&out, "ready: %v\n", ready)
				for _, b := range bs {
					fmt.Fprintf(&out, "  %s\n", batchString(b))
				}
				return out.String()
			case "listen":
				b, ok := s.ListenBatch(frontierArg(str("at", "")))
				if !ok {
					return "no batch yet\n"
				}
				return batchString(b) + "\n"
			case "min-hold":
				return fmt.Sprintf("%d\n", s.MinHold())
			default:
				d.Fatalf(t, "unknown command %s", d.Cmd)
			}
			out.WriteString(stateString(s))
			return out.String()
		})
	})
}

func frontierArg(s string) Frontier {
	var f Frontier
	if s == "" || s == "[]" {
		return f
	}
	for _, e := range strings.Split(s, ",") {
		var t uint64
		fmt.Sscan(e, &t)
		f.Insert(frontier.Time(t))
	}
	return f
}

func batchString(b Batch) string {
	var keys []string
	for _, p := range b.Parts {
		keys = append(keys, p.Key)
	}
	s := fmt.Sprintf("[%v, %v) parts %v", b.Lower, b.Upper, keys)
	if !b.Since.IsEmpty() {
		s += fmt.Sprintf(" since %v", b.Since)
	}
	return s
}

func stateString(s State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seqno %d since %v upper %v\n", s.SeqNo, s.Since, s.Upper)
	for _, bt := range s.Batches {
		fmt.Fprintf(&b, "  batch %s\n", batchString(bt))
	}
	for _, r := range s.Readers {
		fmt.Fprintf(&b, "  reader %s hold %d since %v heartbeat %d\n", r.ID, r.SeqNoHold, r.Since, r.LastHeartbeatMs)
	}
	for _, w := range s.Writers {
		fmt.Fprintf(&b, "  writer %s token %q upper %v\n", w.ID, w.MostRecentToken, w.MostRecentUpper)
	}
	return b.String()
}
