package persisttest

import (
	"context"

	"github.com/shardflow/shardflow/persist/location"
)

// run performs do under the fault f decides for op. do's results reach the
// caller only when it reports success.
func (f *Faults) run(ctx context.Context, op Op, do func() error) error {
	_, err := f.runKind(ctx, op, do)
	return err
}

// runKind is run that also says which fault it applied.
func (f *Faults) runKind(ctx context.Context, op Op, do func() error) (FaultKind, error) {
	kind, err := f.begin(ctx, op)
	if err != nil {
		return NoFault, location.Determinate(string(op), err)
	}
	return kind, f.apply(kind, op, do)
}

func (f *Faults) apply(kind FaultKind, op Op, do func() error) error {
	switch kind {
	case Determinate:
		return location.Determinate(string(op), ErrInjected)
	case IndeterminateLost:
		return location.Indeterminate(string(op), ErrInjected)
	case IndeterminateApplied:
		if err := do(); err != nil {
			return err
		}
		return location.Indeterminate(string(op), ErrInjected)
	}
	return do()
}

// FaultyBlob wraps a location.Blob with the faults of a Faults. Close is
// never faulted.
type FaultyBlob struct {
	inner  location.Blob
	faults *Faults
}

var _ location.Blob = (*FaultyBlob)(nil)

// NewFaultyBlob wraps b; it owns b and closes it on Close.
func NewFaultyBlob(b location.Blob, f *Faults) *FaultyBlob {
	return &FaultyBlob{inner: b, faults: f}
}

// Unwrap returns the wrapped Blob.
func (b *FaultyBlob) Unwrap() location.Blob { return b.inner }

// Get implements location.Blob.
func (b *FaultyBlob) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var (
		value []byte
		ok    bool
	)
	kind, err := b.faults.runKind(ctx, OpBlobGet, func() (err error) {
		value, ok, err = b.inner.Get(ctx, key)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if kind == Corrupt && ok {
		if len(value) == 0 {
			value = []byte{0xff}
		} else {
			value[len(value)/2] ^= 0x5a
		}
	}
	return value, ok, nil
}

// Set implements location.Blob.
func (b *FaultyBlob) Set(ctx context.Context, key string, value []byte) error {
	return b.faults.run(ctx, OpBlobSet, func() error {
		return b.inner.Set(ctx, key, value)
	})
}

// Delete implements location.Blob.
func (b *FaultyBlob) Delete(ctx context.Context, key string) (bool, error) {
	var existed bool
	err := b.faults.run(ctx, OpBlobDelete, func() (err error) {
		existed, err = b.inner.Delete(ctx, key)
		return err
	})
	if err != nil {
		return false, err
	}
	return existed, nil
}

// List implements location.Blob. An applied indeterminate fault lists
// everything, then fails.
func (b *FaultyBlob) List(ctx context.Context, prefix string, fn func(location.BlobMeta) error) error {
	return b.faults.run(ctx, OpBlobList, func() error {
		return b.inner.List(ctx, prefix, fn)
	})
}

// Close implements location.Blob.
func (b *FaultyBlob) Close() error { return b.inner.Close() }

// FaultyConsensus wraps a location.Consensus with the faults of a Faults.
// Close is never faulted.
type FaultyConsensus struct {
	inner  location.Consensus
	faults *Faults
}

var _ location.Consensus = (*FaultyConsensus)(nil)

// NewFaultyConsensus wraps c; it owns c and closes it on Close.
func NewFaultyConsensus(c location.Consensus, f *Faults) *FaultyConsensus {
	return &FaultyConsensus{inner: c, faults: f}
}

// Unwrap returns the wrapped Consensus (which may implement
// location.Watcher).
func (c *FaultyConsensus) Unwrap() location.Consensus { return c.inner }

// Head implements location.Consensus.
func (c *FaultyConsensus) Head(ctx context.Context, key string) (location.VersionedData, bool, error) {
	var (
		data location.VersionedData
		ok   bool
	)
	err := c.faults.run(ctx, OpConsensusHead, func() (err error) {
		data, ok, err = c.inner.Head(ctx, key)
		return err
	})
	if err != nil {
		return location.VersionedData{}, false, err
	}
	return data, ok, nil
}

// CompareAndSet implements location.Consensus. An applied indeterminate
// fault hides the outcome, committed or not, behind the error.
func (c *FaultyConsensus) CompareAndSet(ctx context.Context, key string, expected *location.SeqNo, next location.VersionedData) (location.CaSResult, error) {
	var res location.CaSResult
	err := c.faults.run(ctx, OpConsensusCAS, func() (err error) {
		res, err = c.inner.CompareAndSet(ctx, key, expected, next)
		return err
	})
	if err != nil {
		return 0, err
	}
	return res, nil
}

// Scan implements location.Consensus.
func (c *FaultyConsensus) Scan(ctx context.Context, key string, from location.SeqNo, limit int) ([]location.VersionedData, error) {
	var vs []location.VersionedData
	err := c.faults.run(ctx, OpConsensusScan, func() (err error) {
		vs, err = c.inner.Scan(ctx, key, from, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// Truncate implements location.Consensus.
func (c *FaultyConsensus) Truncate(ctx context.Context, key string, seqno location.SeqNo) (int, error) {
	var n int
	err := c.faults.run(ctx, OpConsensusTruncate, func() (err error) {
		n, err = c.inner.Truncate(ctx, key, seqno)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ListKeys implements location.Consensus.
func (c *FaultyConsensus) ListKeys(ctx context.Context) ([]string, error) {
	var keys []string
	err := c.faults.run(ctx, OpConsensusListKeys, func() (err error) {
		keys, err = c.inner.ListKeys(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// Close implements location.Consensus.
func (c *FaultyConsensus) Close() error { return c.inner.Close() }

// FaultyWatcher is a FaultyConsensus over a store that implements
// location.Watcher; Watch passes through unfaulted (a lost notification is
// already harmless by the Watcher contract).
type FaultyWatcher struct {
	*FaultyConsensus
	watcher location.Watcher
}

var _ location.Watcher = (*FaultyWatcher)(nil)

// Watch implements location.Watcher.
func (w *FaultyWatcher) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	return w.watcher.Watch(ctx, key)
}

// WrapConsensus wraps c with the faults of f, keeping location.Watcher when
// c implements it: the result is a *FaultyWatcher then, else a
// *FaultyConsensus.
func WrapConsensus(c location.Consensus, f *Faults) location.Consensus {
	fc := NewFaultyConsensus(c, f)
	if w, ok := c.(location.Watcher); ok {
		return &FaultyWatcher{FaultyConsensus: fc, watcher: w}
	}
	return fc
}
