package dataflow_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shardflow/shardflow/dataflow"
)

type counter struct{ _ int } // compared by address

// closer counts its closes.
type closer struct{ closes atomic.Int64 }

func (c *closer) Close() { c.closes.Add(1) }

// The workers of one group get one value per (dataflow, key); another
// dataflow, another key or another group gets its own, and a value is made
// afresh once every worker has retired its dataflow.
func TestSharedPerDataflowAndGroup(t *testing.T) {
	var inits atomic.Int64
	newCounter := func() *counter { inits.Add(1); return new(counter) }
	build := func(w *dataflow.Worker, name string, keys ...string) []*counter {
		var got []*counter
		dataflow.Dataflow(w, name, func(s *dataflow.Scope[T]) {
			for _, k := range keys {
				got = append(got, dataflow.Shared(s, k, newCounter))
			}
		})
		return got
	}
	ws := dataflow.NewWorkers(dataflow.Config{Workers: 3})
	first := make([][]*counter, len(ws))
	for i, w := range ws {
		first[i] = build(w, "first", "a", "b")
	}
	for i := range ws {
		if first[i][0] != first[0][0] || first[i][1] != first[0][1] {
			t.Fatalf("worker %d got its own value, want the group's", i)
		}
	}
	if first[0][0] == first[0][1] {
		t.Fatal("keys a and b share a value")
	}
	if got := inits.Load(); got != 2 {
		t.Fatalf("init ran %d times, want 2 (once per key)", got)
	}
	second := build(ws[0], "second", "a")
	if second[0] == first[0][0] {
		t.Fatal("another dataflow got the first dataflow's value")
	}
	other := dataflow.NewWorkers(dataflow.Config{Workers: 1})
	if got := build(other[0], "first", "a"); got[0] == first[0][0] {
		t.Fatal("another group of workers got this group's value")
	}
	for _, w := range ws {
		_ = w.Close() // retires the dataflows, complete or not
	}
	if n := dataflow.SharedCountForTest(ws[0]); n != 0 {
		t.Fatalf("the group holds %d values after every worker closed, want 0", n)
	}
	_ = other[0].Close()
}

// A value lives until the last worker that asked retires the dataflow,
// which closes it.
func TestSharedForgottenWhenAllRetire(t *testing.T) {
	ws := dataflow.NewWorkers(dataflow.Config{Workers: 2})
	var inits atomic.Int64
	get := func(w *dataflow.Worker) (c *closer, in *dataflow.InputHandle[T, int]) {
		dataflow.Dataflow(w, "df", func(s *dataflow.Scope[T]) {
			c = dataflow.Shared(s, "k", func() *closer { inits.Add(1); return new(closer) })
			in, _ = dataflow.NewInput[int](s)
		})
		return c, in
	}
	c0, in0 := get(ws[0])
	c1, in1 := get(ws[1])
	if c0 != c1 || inits.Load() != 1 {
		t.Fatalf("workers got different values (%d inits)", inits.Load())
	}
	if n := dataflow.SharedCountForTest(ws[0]); n != 1 {
		t.Fatalf("the group holds %d values while dataflow 0 runs, want 1", n)
	}
	in0.Close()
	in1.Close()
	for ws[0].Running() > 0 || ws[1].Running() > 0 {
		ws[0].Step()
		if ws[0].Running() == 0 && ws[1].Running() > 0 {
			// Worker 0 retired; worker 1 still holds the value.
			if n := dataflow.SharedCountForTest(ws[0]); n != 1 || c0.closes.Load() != 0 {
				t.Fatalf("the group holds %d values (closed %d times) while worker 1 runs, want 1 (0)", n, c0.closes.Load())
			}
		}
		ws[1].Step()
	}
	if n := dataflow.SharedCountForTest(ws[0]); n != 0 || c0.closes.Load() != 1 {
		t.Fatalf("the group holds %d values (closed %d times) after both retired, want 0 (1)", n, c0.closes.Load())
	}
	for _, w := range ws {
		_ = w.Close()
	}
	if n := c0.closes.Load(); n != 1 {
		t.Fatalf("closed %d times after the workers closed, want 1", n)
	}
}

// A worker of Execute that panics never retires its dataflows: Execute
// closes what they share when it returns, so goroutines a shared value
// owns stop however the dataflow ended.
func TestSharedClosedWhenExecuteAborts(t *testing.T) {
	c := new(closer)
	err := dataflow.Execute(dataflow.Config{Workers: 2, IdleTimeout: stallTimeout}, func(w *dataflow.Worker) {
		var input *dataflow.InputHandle[T, int]
		dataflow.Dataflow(w, "df", func(s *dataflow.Scope[T]) {
			dataflow.Shared(s, "k", func() *closer { return c })
			input, _ = dataflow.NewInput[int](s)
		})
		if w.Index() == 1 {
			panic("boom") // with the dataflow built, its input open
		}
		input.Close()
	})
	if errors.Is(err, dataflow.ErrStalled) {
		t.Fatalf("a worker stalled during the abort, its wake-up lost: %v", err)
	}
	var pe *dataflow.PanicError
	if !errors.As(err, &pe) || pe.Worker != 1 {
		t.Fatalf("Execute returned %v, want worker 1's panic", err)
	}
	if n := c.closes.Load(); n != 1 {
		t.Fatalf("the shared value was closed %d times, want 1", n)
	}
}

func TestSharedMisuse(t *testing.T) {
	w := dataflow.NewWorker()
	defer w.Close()
	mustPanic := func(name, want string, f func()) {
		t.Helper()
		defer func() {
			v := recover()
			if v == nil || !strings.Contains(v.(string), want) {
				t.Fatalf("%s: panic %v, want one saying %q", name, v, want)
			}
		}()
		f()
	}
	dataflow.Dataflow(w, "df", func(s *dataflow.Scope[T]) {
		if a, b := dataflow.Shared(s, "k", func() *int { return new(int) }), dataflow.Shared(s, "k", func() *int { return new(int) }); a != b {
			t.Fatal("asking twice on one worker gave two values")
		}
	})
	ws := dataflow.NewWorkers(dataflow.Config{Workers: 2})
	defer func() {
		for _, w := range ws {
			_ = w.Close()
		}
	}()
	dataflow.Dataflow(ws[0], "df", func(s *dataflow.Scope[T]) {
		dataflow.Shared(s, "k", func() int { return 1 })
	})
	dataflow.Dataflow(ws[1], "df", func(s *dataflow.Scope[T]) {
		mustPanic("type", "holds a int", func() { dataflow.Shared(s, "k", func() string { return "" }) })
	})
}
