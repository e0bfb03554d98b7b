package persisttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrInjected is the cause of every failure a Faults injects.
var ErrInjected = errors.New("persisttest: injected fault")

// Op names the operations a fault can target. They match the Op of the
// location.ExternalError the wrappers return.
type Op string

// The operations of location.Blob and location.Consensus. AnyOp matches all.
const (
	AnyOp               Op = ""
	OpBlobGet           Op = "blob get"
	OpBlobSet           Op = "blob set"
	OpBlobDelete        Op = "blob delete"
	OpBlobList          Op = "blob list"
	OpConsensusHead     Op = "consensus head"
	OpConsensusCAS      Op = "consensus compare-and-set"
	OpConsensusScan     Op = "consensus scan"
	OpConsensusTruncate Op = "consensus truncate"
	OpConsensusListKeys Op = "consensus list keys"
)

// FaultKind is what happens to one operation.
type FaultKind int

const (
	// NoFault: the operation runs normally.
	NoFault FaultKind = iota
	// Determinate: the operation does not happen and returns a determinate
	// error.
	Determinate
	// IndeterminateApplied: the operation happens, then returns an
	// indeterminate error (the reply was lost).
	IndeterminateApplied
	// IndeterminateLost: the operation does not happen and returns an
	// indeterminate error (the request was lost).
	IndeterminateLost
	// Corrupt: a blob Get succeeds but returns the value with one byte
	// flipped (an empty value reads as one garbage byte), as a bad disk or
	// a buggy proxy would. Only scripted (FailNext), and only meaningful
	// for OpBlobGet; other operations run normally.
	Corrupt
)

func (k FaultKind) String() string {
	switch k {
	case NoFault:
		return "none"
	case Determinate:
		return "determinate"
	case IndeterminateApplied:
		return "indeterminate (applied)"
	case IndeterminateLost:
		return "indeterminate (lost)"
	case Corrupt:
		return "corrupt"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Faults decides which operations of the stores it wraps fail. It is safe
// for concurrent use and may be shared by several wrappers. The zero rates
// and no script inject nothing.
type Faults struct {
	seed uint64
	mu   struct {
		sync.Mutex
		rng           *rand.Rand
		determinate   float64           // probability an operation fails determinately
		indeterminate float64           // probability it fails indeterminately
		opRates       map[Op][2]float64 // per-op overrides of the two
		latency       time.Duration
		sleep         func(ctx context.Context, d time.Duration) error
		script        []scripted // consumed front to back
		injected      map[FaultKind]int
	}
}

type scripted struct {
	op   Op
	kind FaultKind
}

// NewFaults returns a Faults that injects nothing until configured; its
// random choices derive from seed, which tests should print.
func NewFaults(seed uint64) *Faults {
	f := &Faults{seed: seed}
	f.mu.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f.mu.sleep = sleepContext
	f.mu.injected = map[FaultKind]int{}
	f.mu.opRates = map[Op][2]float64{}
	return f
}

// Seed returns the seed the Faults was created with.
func (f *Faults) Seed() uint64 { return f.seed }

// SetRates makes each operation fail determinately with probability
// determinate and indeterminately with probability indeterminate (half of
// those applied, half lost). Zero rates turn random faults off.
func (f *Faults) SetRates(determinate, indeterminate float64) {
	checkRates(determinate, indeterminate)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.determinate, f.mu.indeterminate = determinate, indeterminate
}

// SetOpRates is SetRates for one operation only, overriding the global
// rates for it (AnyOp: same as SetRates).
func (f *Faults) SetOpRates(op Op, determinate, indeterminate float64) {
	if op == AnyOp {
		f.SetRates(determinate, indeterminate)
		return
	}
	checkRates(determinate, indeterminate)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.opRates[op] = [2]float64{determinate, indeterminate}
}

func checkRates(determinate, indeterminate float64) {
	if determinate < 0 || indeterminate < 0 || determinate+indeterminate > 1 {
		panic(fmt.Sprintf("persisttest: fault rates %v + %v outside [0, 1]", determinate, indeterminate))
	}
}

// SetLatency delays every operation by d before it runs (zero: no delay).
func (f *Faults) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.latency = d
}

// SetSleep replaces how latency is waited out, for tests that drive time
// themselves. sleep must return ctx's error if ctx ends first.
func (f *Faults) SetSleep(sleep func(ctx context.Context, d time.Duration) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.sleep = sleep
}

// FailNext makes the next operation matching op (AnyOp: any operation) fail
// with kind. Scripted faults are consumed in the order they were added, before
// any random fault is considered.
func (f *Faults) FailNext(op Op, kind FaultKind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.script = append(f.mu.script, scripted{op, kind})
}

// Injected returns how many faults of kind have been injected so far.
func (f *Faults) Injected(kind FaultKind) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.injected[kind]
}

// begin waits out the latency and decides the fate of one op.
func (f *Faults) begin(ctx context.Context, op Op) (FaultKind, error) {
	f.mu.Lock()
	latency, sleep := f.mu.latency, f.mu.sleep
	kind := f.decideLocked(op)
	f.mu.Unlock()
	if latency > 0 {
		if err := sleep(ctx, latency); err != nil {
			return NoFault, err
		}
	}
	return kind, nil
}

func (f *Faults) decideLocked(op Op) FaultKind {
	kind := NoFault
	if i := f.scriptIndexLocked(op); i >= 0 {
		kind = f.mu.script[i].kind
		f.mu.script = append(f.mu.script[:i], f.mu.script[i+1:]...)
	} else if det, indet := f.ratesLocked(op); det+indet > 0 {
		r := f.mu.rng.Float64()
		switch {
		case r < det:
			kind = Determinate
		case r < det+indet:
			kind = IndeterminateLost
			if f.mu.rng.IntN(2) == 0 {
				kind = IndeterminateApplied
			}
		}
	}
	if kind != NoFault {
		f.mu.injected[kind]++
	}
	return kind
}

func (f *Faults) ratesLocked(op Op) (determinate, indeterminate float64) {
	if r, ok := f.mu.opRates[op]; ok {
		return r[0], r[1]
	}
	return f.mu.determinate, f.mu.indeterminate
}

func (f *Faults) scriptIndexLocked(op Op) int {
	for i, s := range f.mu.script {
		if s.op == AnyOp || s.op == op {
			return i
		}
	}
	return -1
}

func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
