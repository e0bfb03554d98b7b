package sqlite

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/fsnotify/fsnotify"

	"github.com/shardflow/shardflow/persist/location"
)

// The database file and its WAL change with every write, but no file event
// says when a commit has become visible to readers: SQLite updates its WAL
// index in shared memory after writing and syncing the frames. So each
// compare-and-set that commits writes one byte to a companion file,
// <path>-notify, afterwards, and Watch waits for file events on that file
// (inotify, kqueue, ...). Notifications are a hint: a reader still polls,
// so a lost or spurious one costs nothing but time.

var _ location.Watcher = (*Consensus)(nil)

// notifier is the state of a Consensus's notifications.
type notifier struct {
	mu      sync.Mutex
	poke    *os.File // opened by the first commit
	pokeErr error    // why poke could not be opened; not retried
	logger  *slog.Logger
	warned  bool // a failed poke was logged: later ones are not
	watcher *fsnotify.Watcher
	done    chan struct{} // closed when the event loop returns
	subs    map[*chan struct{}]struct{}
	closed  bool // by Close: no new watcher may start
}

func (c *Consensus) notifyPath() string { return c.path + "-notify" }

// openNotify opens (creating) the notify file for writing.
func (c *Consensus) openNotify() (*os.File, error) {
	return os.OpenFile(c.notifyPath(), os.O_WRONLY|os.O_CREATE, 0o644)
}

// poke tells watchers in every process that a version was committed.
// Failing to fails no commit (watchers poll, so they see it later), but the
// first failure is logged: until it is fixed, listeners in other processes
// see commits a poll interval late.
func (c *Consensus) poke() {
	n := &c.notify
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	if n.poke == nil && n.pokeErr == nil {
		n.poke, n.pokeErr = c.openNotify()
	}
	err := n.pokeErr
	if n.poke != nil {
		_, err = n.poke.WriteAt([]byte{1}, 0)
	}
	warn := err != nil && !n.warned && n.logger != nil
	n.warned = n.warned || warn
	n.mu.Unlock()
	if warn { // outside n.mu: the logger's handler may use this handle
		n.logger.Warn("sqlite: cannot notify watchers of commits; listeners in other processes will see them only when they poll (further failures are not logged)",
			"path", c.notifyPath(), "err", err)
	}
}

// Watch implements location.Watcher: notify receives a value after any
// commit to the database by any process (for any key: the hint is not
// filtered), until cancel is called or the Consensus is closed.
func (c *Consensus) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := location.CheckKey("consensus watch", key); err != nil {
		return nil, nil, err
	}
	const op = "consensus watch"
	if err := c.begin(ctx, op); err != nil {
		return nil, nil, err
	}
	n := &c.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, nil, location.Determinate(op, location.ErrClosed)
	}
	if n.watcher == nil {
		if err := c.startWatching(); err != nil {
			return nil, nil, location.Determinate(op, c.wrap("watch", err))
		}
	}
	ch := make(chan struct{}, 1)
	n.subs[&ch] = struct{}{}
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			delete(n.subs, &ch)
		})
	}
	return ch, cancel, nil
}

// startWatching starts the event loop. n.mu is held.
func (c *Consensus) startWatching() error {
	n := &c.notify
	if n.poke == nil && !c.readOnly {
		// The file must exist to be watched; keep it open for pokes. A
		// read-only handle watches it only if a writer made it.
		f, err := c.openNotify()
		if err != nil {
			return err
		}
		n.poke = f
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := w.Add(c.notifyPath()); err != nil {
		w.Close()
		return fmt.Errorf("watch %s: %w", c.notifyPath(), err)
	}
	n.watcher, n.done = w, make(chan struct{})
	if n.subs == nil {
		n.subs = make(map[*chan struct{}]struct{})
	}
	go c.watchLoop(w, n.done)
	return nil
}

// watchLoop wakes every subscriber on each event, until the watcher is
// closed. A watcher error (an overflowed event queue, say) may have hidden
// a commit, so it wakes them too.
func (c *Consensus) watchLoop(w *fsnotify.Watcher, done chan struct{}) {
	defer close(done)
	for {
		select {
		case _, ok := <-w.Events:
			if !ok {
				return
			}
		case _, ok := <-w.Errors:
			if !ok {
				return
			}
		}
		c.notify.mu.Lock()
		for ch := range c.notify.subs {
			select {
			case *ch <- struct{}{}:
			default: // one pending value is enough
			}
		}
		c.notify.mu.Unlock()
	}
}

// closeNotify stops the event loop and closes the poke file.
func (c *Consensus) closeNotify() error {
	n := &c.notify
	n.mu.Lock()
	w, done, poke := n.watcher, n.done, n.poke
	n.watcher, n.poke, n.subs, n.closed = nil, nil, nil, true
	n.mu.Unlock()
	var err error
	if w != nil {
		err = w.Close()
		<-done
	}
	if poke != nil {
		if cerr := poke.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
