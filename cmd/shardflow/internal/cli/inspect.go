package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/render"
	"github.com/shardflow/shardflow/persist"
)

type inspectFlags struct {
	shard  string
	output string
	verify bool
}

func newInspectCmd(g *globals) *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:   "inspect --shard NAME [--output json|table] [--verify]",
		Short: "Show a shard's state: frontiers, batches, parts, readers, writers",
		Long: `inspect prints the shard's current state version: its seqno, since and
upper; each batch with its [lower, upper) and its parts (blob key, size in
bytes, rows, time range); the leased readers (id, seqno hold, since, lease
expiry) and the registered writers.

In the default location a part's blob is the file <location>/blob/<key>; the
JSON form gives it as "path". A small part kept in the state itself rather
than in a blob is marked inline.

--verify also reads every part the state references and checks that its blob
exists, can be read, and has the recorded size and checksum; it lists every
part that does not (missing, unreadable or corrupt) and exits with status 4.

inspect (like shards) writes nothing: the location is opened read-only, so an
older log is read as it is rather than migrated. A log with a hot rollback
journal (left by a writer that died mid-commit) cannot be read until a writer
opens it.`,
		Example: `  shardflow inspect --shard fruit
  shardflow inspect --shard fruit --output json --verify`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInspect(cmd.Context(), g, f)
		},
	}
	addShardFlag(cmd, &f.shard)
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: json or table")
	cmd.Flags().BoolVar(&f.verify, "verify", false, "check every referenced blob exists, can be read and has the right checksum (exit 4 if not)")
	return cmd
}

type inspectJSON struct {
	Shard   string        `json:"shard"`
	SeqNo   uint64        `json:"seqno"`
	Since   []uint64      `json:"since"`
	Upper   []uint64      `json:"upper"`
	Batches []batchJSON   `json:"batches"`
	Readers []readerJSON  `json:"readers"`
	Writers []writerJSON  `json:"writers"`
	Verify  *verifyJSON   `json:"verify,omitempty"`
	verify  *verifyReport // for the table
}

type batchJSON struct {
	Lower []uint64   `json:"lower"`
	Upper []uint64   `json:"upper"`
	Since []uint64   `json:"since"`
	Parts []partJSON `json:"parts"`
}

type partJSON struct {
	Key     string `json:"key"`
	Bytes   int64  `json:"bytes"`
	Rows    int64  `json:"rows"`
	MinTime uint64 `json:"min_time"`
	MaxTime uint64 `json:"max_time"`
	Path    string `json:"path,omitempty"`
	Inline  bool   `json:"inline,omitempty"` // kept in the state, no blob
}

type readerJSON struct {
	ID           string   `json:"id"`
	Purpose      string   `json:"purpose"`
	SeqNo        uint64   `json:"seqno"`
	Since        []uint64 `json:"since"`
	LeaseExpires string   `json:"lease_expires"`
}

type writerJSON struct {
	ID           string   `json:"id"`
	Upper        []uint64 `json:"upper"`
	LeaseExpires string   `json:"lease_expires"`
}

type verifyJSON struct {
	Parts   int      `json:"parts"`
	OK      bool     `json:"ok"`
	Missing []string `json:"missing"`
	Corrupt []string `json:"corrupt"`
	// Unreadable lists the parts whose blob could not be read (its error
	// is in Problems).
	Unreadable []string `json:"unreadable"`
	// Unknown lists the parts, intact by size and checksum, in a format
	// newer than this shardflow reads.
	Unknown  []string `json:"unknown"`
	Problems []string `json:"problems"`
}

type verifyReport = persist.VerifyReport

func runInspect(ctx context.Context, g *globals, f inspectFlags) error {
	id, err := shardID(f.shard)
	if err != nil {
		return err
	}
	if f.output != "json" && f.output != "table" {
		return usageErrorf("--output: unknown format %q (want json or table)", f.output)
	}
	st, err := g.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.mustExist(ctx, id); err != nil {
		return err
	}
	s, err := st.client.State(ctx, id)
	if err != nil {
		return failure(err)
	}
	view := inspectView(s, st.blobDir)
	if f.verify {
		rep, err := st.client.Verify(ctx, id)
		if err != nil {
			return failure(err)
		}
		view.verify = &rep
		view.Verify = verifyView(rep)
	}
	if f.output == "json" {
		if err := json.NewEncoder(g.env.Stdout).Encode(view); err != nil {
			return failure(err)
		}
	} else if err := printInspectTable(g.env.Stdout, view); err != nil {
		return failure(err)
	}
	if view.verify != nil && !view.verify.OK() {
		return &exitError{code: ExitVerify, err: fmt.Errorf("inspect --verify: shard %s: %d of %d parts are missing or damaged:\n  %s",
			id, len(view.verify.Problems), view.verify.Parts, strings.Join(view.verify.Problems, "\n  "))}
	}
	return nil
}

// verifyView is the JSON form of a verify report.
func verifyView(rep verifyReport) *verifyJSON {
	return &verifyJSON{Parts: rep.Parts, OK: rep.OK(),
		Missing: nonNil(rep.Missing), Corrupt: nonNil(rep.Corrupt), Unreadable: nonNil(rep.Unreadable),
		Unknown: nonNil(rep.Unknown), Problems: nonNil(rep.Problems)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func inspectView(s persist.ShardState, blobDir string) inspectJSON {
	v := inspectJSON{
		Shard: string(s.Shard), SeqNo: s.SeqNo, Since: times(s.Since), Upper: times(s.Upper),
		Batches: []batchJSON{}, Readers: []readerJSON{}, Writers: []writerJSON{},
	}
	for _, b := range s.Batches {
		bj := batchJSON{Lower: times(b.Lower), Upper: times(b.Upper), Since: times(b.Since), Parts: []partJSON{}}
		for _, p := range b.Parts {
			pj := partJSON{Key: p.Key, Bytes: p.Bytes, Rows: p.Rows, MinTime: uint64(p.MinTime), MaxTime: uint64(p.MaxTime),
				Inline: p.Inline != nil}
			if blobDir != "" && !pj.Inline {
				pj.Path = filepath.Join(blobDir, filepath.FromSlash(p.Key))
			}
			bj.Parts = append(bj.Parts, pj)
		}
		v.Batches = append(v.Batches, bj)
	}
	for _, r := range s.Readers {
		v.Readers = append(v.Readers, readerJSON{ID: r.ID, Purpose: r.Purpose, SeqNo: r.SeqNoHold, Since: times(r.Since),
			LeaseExpires: expiry(r.LastHeartbeatMs, r.LeaseDurationMs)})
	}
	for _, w := range s.Writers {
		v.Writers = append(v.Writers, writerJSON{ID: w.ID, Upper: times(w.MostRecentUpper),
			LeaseExpires: expiry(w.LastHeartbeatMs, w.LeaseDurationMs)})
	}
	return v
}

func expiry(heartbeatMs, durationMs int64) string {
	return time.UnixMilli(heartbeatMs + durationMs).UTC().Format(time.RFC3339)
}

func printInspectTable(w io.Writer, v inspectJSON) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "shard\t%s\n", v.Shard)
	fmt.Fprintf(tw, "seqno\t%d\n", v.SeqNo)
	fmt.Fprintf(tw, "since\t%s\n", render.FrontierJSON(v.Since))
	fmt.Fprintf(tw, "upper\t%s\n", render.FrontierJSON(v.Upper))
	fmt.Fprintf(tw, "batches\t%d\n", len(v.Batches))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Batches) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "LOWER\tUPPER\tPART\tBYTES\tROWS\tTIMES")
		for _, b := range v.Batches {
			if len(b.Parts) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t-\t0\t0\t-\n", render.FrontierJSON(b.Lower), render.FrontierJSON(b.Upper))
			}
			for _, p := range b.Parts {
				key := p.Key
				if p.Inline {
					key += " (inline)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t[%d, %d]\n", render.FrontierJSON(b.Lower), render.FrontierJSON(b.Upper),
					key, p.Bytes, p.Rows, p.MinTime, p.MaxTime)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(v.Readers) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "READER\tPURPOSE\tSEQNO\tSINCE\tLEASE EXPIRES")
		for _, r := range v.Readers {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.ID, r.Purpose, r.SeqNo, render.FrontierJSON(r.Since), r.LeaseExpires)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(v.Writers) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "WRITER\tUPPER\tLEASE EXPIRES")
		for _, wr := range v.Writers {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", wr.ID, render.FrontierJSON(wr.Upper), wr.LeaseExpires)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if v.verify != nil {
		fmt.Fprintln(w)
		if v.verify.OK() {
			fmt.Fprintf(w, "verify: all %d parts present and intact\n", v.verify.Parts)
			if n := len(v.verify.Unknown); n > 0 {
				fmt.Fprintf(w, "verify: %d of them in a format newer than this shardflow reads (checked by size and checksum only)\n", n)
			}
		} else {
			for _, p := range v.verify.Problems {
				fmt.Fprintf(w, "verify: %s\n", p)
			}
		}
	}
	return nil
}
