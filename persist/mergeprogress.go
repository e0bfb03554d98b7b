package persist

// MergeProgress is how far WriteHandle.AppendBatch has got merging a
// BatchBuilder's runs: see BatchBuilder.SetMergeProgress.
//
// The merge is one or more passes. While there are more runs than a merge
// reads at once (16), a pass merges them in groups of that many into fewer,
// longer runs; the last pass merges what is left into the batch. A pass
// reads every row of the runs it merges, except a run left alone at the end
// of an intermediate pass, which it keeps as it is.
type MergeProgress struct {
	// Runs is how many runs the merge started with.
	Runs int
	// Pass is the pass under way, from 1 to Passes; Passes counts them
	// all, the last included, and does not change.
	Pass, Passes int
	// Rows is how many rows the passes have read so far. It never
	// decreases.
	Rows int64
	// Total is how many rows the passes read in all, as well as is known:
	// exactly for the passes done and the one under way; for each pass to
	// come, as many rows as the runs held when the one under way began,
	// which is more than it reads if merging summed rows together or a run
	// is left alone. It changes only when a pass begins and when the merge
	// ends, and the last report, when the merge ends, has Rows == Total.
	Total int64
}

// mergeReport keeps a builder's MergeProgress up to date and reports it.
// Its methods do nothing on a nil *mergeReport: no one is listening.
type mergeReport struct {
	f     func(MergeProgress)
	p     MergeProgress
	fanIn int
	done  int64 // rows read by the passes done
	read  int64 // rows read by the merges done of the pass under way
}

// newMergeReport returns the report of a merge of runs, fanIn at a time,
// that has a last pass: more than one run, or one with rows kept apart.
func newMergeReport(f func(MergeProgress), runs []run, fanIn int) *mergeReport {
	passes := 1 // the last
	for n := len(runs); n > fanIn; n = (n + fanIn - 1) / fanIn {
		passes++
	}
	return &mergeReport{f: f, fanIn: fanIn, p: MergeProgress{Runs: len(runs), Passes: passes}}
}

// startPass reports the start of a pass over runs: the last, which reads
// them all, or an intermediate one, which leaves a lone last run alone.
func (r *mergeReport) startPass(runs []run, last bool) {
	if r == nil {
		return
	}
	var all, merged int64
	for i, rn := range runs {
		var rows int64
		for _, p := range rn.parts {
			rows += p.Rows
		}
		all += rows
		if last || i%r.fanIn != 0 || i < len(runs)-1 {
			merged += rows
		}
	}
	r.p.Pass++
	r.done, r.read = r.done+r.read, 0
	r.p.Total = r.done + merged + int64(r.p.Passes-r.p.Pass)*all
	r.report(0)
}

// reading returns the progress function of a merge of the pass under way.
func (r *mergeReport) reading() func(rowsIn int64) {
	if r == nil {
		return nil
	}
	return r.report
}

// merged counts the rows a merge of the pass under way read.
func (r *mergeReport) merged(rowsIn int64) {
	if r != nil {
		r.read += rowsIn
	}
}

// report reports rowsIn more rows read by the merge under way.
func (r *mergeReport) report(rowsIn int64) {
	r.p.Rows = r.done + r.read + rowsIn
	// Parts that miscount their rows must not put Rows past Total.
	r.p.Total = max(r.p.Total, r.p.Rows)
	r.f(r.p)
}

// finish reports the end of the merge, after the last pass: every row the
// passes read, Rows == Total.
func (r *mergeReport) finish() {
	if r == nil {
		return
	}
	r.done, r.read = r.done+r.read, 0
	r.p.Total = r.done
	r.report(0)
}
