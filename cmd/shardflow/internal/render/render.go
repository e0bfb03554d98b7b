package render

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Update is one (key, val, time, diff) of a replayed shard.
type Update struct {
	Key, Val []byte
	Time     uint64
	Diff     int64
}

// Compare orders updates by time, then key bytes, then val bytes.
func Compare(a, b Update) int {
	if c := cmp.Compare(a.Time, b.Time); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return bytes.Compare(a.Val, b.Val)
}

// Consolidate sorts ups by Compare, sums the diffs of equal (key, val, time)
// and drops zero sums, in place. It returns the consolidated prefix, and a
// *DiffOverflowError if some sum lies outside the int64 range (that
// update's printed diff would be wrong; the others are right).
func Consolidate(ups []Update) ([]Update, error) {
	slices.SortFunc(ups, Compare)
	out := ups[:0]
	var overflow error
	// carry counts the times the last output's sum wrapped past the int64
	// range (+1 up, -1 down): its true sum is Diff + carry*2^64, in range
	// only if carry ends at 0, however the partial sums wandered.
	carry := 0
	settle := func() {
		if n := len(out); carry != 0 && n > 0 && overflow == nil {
			overflow = &DiffOverflowError{Key: out[n-1].Key, Val: out[n-1].Val, Time: out[n-1].Time, Up: carry > 0}
		}
		carry = 0
	}
	for _, u := range ups {
		if n := len(out); n > 0 && Compare(out[n-1], u) == 0 {
			a := out[n-1].Diff
			s := a + u.Diff
			switch {
			case a > 0 && u.Diff > 0 && s < 0:
				carry++
			case a < 0 && u.Diff < 0 && s >= 0:
				carry--
			}
			out[n-1].Diff = s
			continue
		}
		settle()
		if n := len(out); n > 0 && out[n-1].Diff == 0 {
			out[n-1] = u
			continue
		}
		out = append(out, u)
	}
	settle()
	if n := len(out); n > 0 && out[n-1].Diff == 0 {
		out = out[:n-1]
	}
	return out, overflow
}

// DiffOverflowError: the diffs of one (key, val, time) sum to a count
// outside the int64 range, which no printed diff can hold.
type DiffOverflowError struct {
	Key, Val []byte
	Time     uint64
	// Up: the sum is above the range, rather than below it.
	Up bool
}

func (e *DiffOverflowError) Error() string {
	side := "below -9223372036854775808"
	if e.Up {
		side = "above 9223372036854775807"
	}
	return fmt.Sprintf("the diffs of key %s val %s at time %d sum to %s, outside the int64 range", JSONValue(e.Key), JSONValue(e.Val), e.Time, side)
}

// Format names an output format of replay.
type Format string

// The output formats.
const (
	JSONL Format = "jsonl"
	CSV   Format = "csv"
	Table Format = "table"
)

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case JSONL, CSV, Table:
		return Format(s), nil
	}
	return "", fmt.Errorf("render: unknown output format %q (want jsonl, csv or table)", s)
}

// Printer writes a replayed stream. Calls must come from one goroutine.
type Printer interface {
	// Updates prints consolidated updates (see Consolidate).
	Updates(ups []Update) error
	// Frontier prints that the frontier moved to f.
	Frontier(f []uint64) error
	// Error prints that the replay froze at frontier f because of msg.
	Error(msg string, f []uint64) error
	// Flush writes anything buffered.
	Flush() error
}

// NewPrinter returns a printer of format f writing to w.
func NewPrinter(w io.Writer, f Format) Printer {
	switch f {
	case JSONL:
		return &jsonlPrinter{w: bufio.NewWriter(w)}
	case CSV:
		return &csvPrinter{w: csv.NewWriter(w)}
	case Table:
		return &tablePrinter{w: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	}
	panic(fmt.Sprintf("render: unknown format %q", f))
}

// JSONValue returns b if it is valid JSON, or else b as a JSON string.
// Valid JSON that spans lines is compacted (OneLine), so that an update
// stays on its one line.
func JSONValue(b []byte) json.RawMessage {
	if json.Valid(b) {
		return OneLine(b)
	}
	s, _ := json.Marshal(string(b)) // a string always marshals
	return s
}

// OneLine returns b compacted if it is valid JSON that spans lines (a line
// break in JSON can only be white space between tokens), and b itself
// otherwise. Replay applies it to keys and values before it consolidates
// them, so that what prints alike sums and sorts alike.
func OneLine(b []byte) []byte {
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	var c bytes.Buffer
	if json.Compact(&c, b) != nil {
		return b
	}
	return c.Bytes()
}

// FrontierJSON formats f as a JSON array, [] when empty.
func FrontierJSON(f []uint64) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, t := range f {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(t, 10))
	}
	sb.WriteByte(']')
	return sb.String()
}

// jsonlPrinter buffers updates and flushes at every frontier line, so a
// follower sees each completed time at once without a write per update.
type jsonlPrinter struct {
	w   *bufio.Writer
	buf []byte
}

func (p *jsonlPrinter) Updates(ups []Update) error {
	p.buf = p.buf[:0]
	for _, u := range ups {
		p.buf = append(p.buf, `{"key":`...)
		p.buf = append(p.buf, JSONValue(u.Key)...)
		p.buf = append(p.buf, `,"val":`...)
		p.buf = append(p.buf, JSONValue(u.Val)...)
		p.buf = append(p.buf, `,"time":`...)
		p.buf = strconv.AppendUint(p.buf, u.Time, 10)
		p.buf = append(p.buf, `,"diff":`...)
		p.buf = strconv.AppendInt(p.buf, u.Diff, 10)
		p.buf = append(p.buf, "}\n"...)
	}
	_, err := p.w.Write(p.buf)
	return err
}

func (p *jsonlPrinter) Frontier(f []uint64) error {
	if _, err := fmt.Fprintf(p.w, "{\"frontier\":%s}\n", FrontierJSON(f)); err != nil {
		return err
	}
	return p.w.Flush()
}

func (p *jsonlPrinter) Error(msg string, f []uint64) error {
	m, _ := json.Marshal(msg)
	if _, err := fmt.Fprintf(p.w, "{\"error\":%s,\"frontier\":%s}\n", m, FrontierJSON(f)); err != nil {
		return err
	}
	return p.w.Flush()
}

func (p *jsonlPrinter) Flush() error { return p.w.Flush() }

type csvPrinter struct {
	w          *csv.Writer
	headerDone bool
}

func (p *csvPrinter) header() error {
	if p.headerDone {
		return nil
	}
	p.headerDone = true
	return p.w.Write([]string{"key", "val", "time", "diff"})
}

func (p *csvPrinter) Updates(ups []Update) error {
	if err := p.header(); err != nil {
		return err
	}
	for _, u := range ups {
		row := []string{string(JSONValue(u.Key)), string(JSONValue(u.Val)),
			strconv.FormatUint(u.Time, 10), strconv.FormatInt(u.Diff, 10)}
		if err := p.w.Write(row); err != nil {
			return err
		}
	}
	return nil
}

// Frontier writes the header (so an empty replay is still valid CSV) and
// flushes, so a follower sees each completed time.
func (p *csvPrinter) Frontier([]uint64) error {
	if err := p.header(); err != nil {
		return err
	}
	return p.Flush()
}

func (p *csvPrinter) Error(string, []uint64) error {
	if err := p.header(); err != nil {
		return err
	}
	return p.Flush()
}

func (p *csvPrinter) Flush() error {
	p.w.Flush()
	return p.w.Error()
}

type tablePrinter struct {
	w          *tabwriter.Writer
	headerDone bool
}

func (p *tablePrinter) header() {
	if !p.headerDone {
		p.headerDone = true
		fmt.Fprint(p.w, "TIME\tDIFF\tKEY\tVAL\n")
	}
}

func (p *tablePrinter) Updates(ups []Update) error {
	p.header()
	for _, u := range ups {
		fmt.Fprintf(p.w, "%d\t%+d\t%s\t%s\n", u.Time, u.Diff, JSONValue(u.Key), JSONValue(u.Val))
	}
	return nil
}

func (p *tablePrinter) Frontier(f []uint64) error {
	p.header()
	fmt.Fprintf(p.w, "-- frontier %s\n", FrontierJSON(f))
	return p.Flush()
}

func (p *tablePrinter) Error(msg string, f []uint64) error {
	p.header()
	fmt.Fprintf(p.w, "-- error at frontier %s: %s\n", FrontierJSON(f), msg)
	return p.Flush()
}

func (p *tablePrinter) Flush() error { return p.w.Flush() }
