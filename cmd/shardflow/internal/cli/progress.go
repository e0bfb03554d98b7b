package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/shardflow/shardflow/persist"
)

// progress is a progress bar on stderr, shown only when stderr is a
// terminal: piped or redirected output, and tests, see nothing. The zero
// value and nil show nothing.
type progress struct {
	bar *progressbar.ProgressBar
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// terminal reports whether w is a terminal: bars are shown only on a
// terminal stderr (a variable, so tests can pretend).
var terminal = isTerminal

// newProgress starts a bar counting to max (-1: unknown, a spinner);
// bytes counts bytes rather than items.
func (g *globals) newProgress(max int64, desc string, bytes bool) *progress {
	if !terminal(g.env.Stderr) {
		return &progress{}
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(g.env.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000), // 100ms
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	}
	if max < 0 {
		// A spinner may never be told of any progress: it says what is
		// under way at once, and turns on its own.
		opts = append(opts, progressbar.OptionSetRenderBlankState(true))
	}
	return &progress{bar: progressbar.NewOptions64(max, opts...)}
}

// Add counts n more.
func (p *progress) Add(n int) {
	if p != nil && p.bar != nil {
		_ = p.bar.Add(n)
	}
}

// Set moves the bar to n of max.
func (p *progress) Set(n, max int64) {
	if p != nil && p.bar != nil {
		if max != p.bar.GetMax64() {
			p.bar.ChangeMax64(max)
		}
		_ = p.bar.Set64(n)
	}
}

// Describe changes what the bar says it counts.
func (p *progress) Describe(desc string) {
	if p != nil && p.bar != nil {
		p.bar.Describe(desc)
	}
}

// Reader counts what r reads.
func (p *progress) Reader(r io.Reader) io.Reader {
	if p == nil || p.bar == nil {
		return r
	}
	pr := progressbar.NewReader(r, p.bar)
	return &pr
}

// Done removes the bar.
func (p *progress) Done() {
	if p != nil && p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
	}
}

// mergeBar shows the merge of a batch's runs, from its first report: see
// persist.BatchBuilder.SetMergeProgress. Until then it shows its waiting
// bar, if it has one: the last run's sorting and writing, or the whole
// batch's when it needs no merge, report nothing. Its zero value shows
// nothing until a report comes, and nil nothing at all.
type mergeBar struct {
	g       *globals
	waiting *progress
	bar     *progress
	pass    int
}

// report moves the bar to where the merge got, starting it on the first.
func (m *mergeBar) report(p persist.MergeProgress) {
	desc := fmt.Sprintf("merging %d runs", p.Runs)
	if p.Passes > 1 {
		desc += fmt.Sprintf(", pass %d of %d", p.Pass, p.Passes)
	}
	switch {
	case m.bar == nil:
		m.waiting.Done()
		m.waiting = nil
		m.bar = m.g.newProgress(p.Total, desc, false)
	case p.Pass != m.pass:
		m.bar.Describe(desc)
	}
	m.pass = p.Pass
	m.bar.Set(p.Rows, p.Total)
}

// Done removes the bars, if there are any.
func (m *mergeBar) Done() {
	if m != nil {
		m.waiting.Done()
		m.bar.Done()
	}
}
