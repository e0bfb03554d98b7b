package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardflow/shardflow/persist/location"
)

// Watch implements location.Watcher. It returns once the listening
// connection is listening, so a write committed after Watch returns is
// never missed; ctx bounds that wait (the first Watch opens the
// connection). If the server refuses LISTEN (a hot standby does, during
// recovery), Watch fails at once, now and from then on.
func (c *Consensus) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := location.CheckKey("consensus watch", key); err != nil {
		return nil, nil, err
	}
	const op = "consensus watch"
	if err := c.begin(ctx, op); err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, nil, location.Determinate(op, location.ErrClosed)
	}
	l := c.mu.listener
	if l == nil {
		l = startListener(c.pool.Config().ConnConfig.Copy())
		c.mu.listener = l
	}
	c.mu.Unlock()

	w := &watch{ch: make(chan struct{}, 1)}
	l.add(key, w)
	refused := func() error {
		// Readers then poll, without waiting for a watch first.
		l.remove(key, w)
		return location.Determinate(op, c.wrap("listen", l.refusal))
	}
	select {
	case <-l.ready:
	case <-l.refused:
		return nil, nil, refused()
	case <-ctx.Done():
		l.remove(key, w)
		return nil, nil, location.Determinate(op, ctx.Err())
	case <-l.done:
		// The listener returns after a refusal as well, closing done
		// after refused: a refusal is reported as one, whichever case
		// the select took.
		select {
		case <-l.refused:
			return nil, nil, refused()
		default:
		}
		// Close stopped the listener before it was ready: nothing else
		// would ever end this wait.
		l.remove(key, w)
		return nil, nil, location.Determinate(op, location.ErrClosed)
	}
	var once sync.Once
	return w.ch, func() { once.Do(func() { l.remove(key, w) }) }, nil
}

type watch struct {
	ch chan struct{} // capacity 1: notifications coalesce
}

// listener owns one connection outside the pool that LISTENs and routes
// notifications to watches by key.
type listener struct {
	cfg    *pgx.ConnConfig
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	ready  chan struct{} // closed when LISTEN first succeeded
	// refused is closed, and refusal set, when the server refused the
	// first LISTEN: it does not take them (a hot standby, during
	// recovery), and retrying would not change that.
	refused chan struct{}
	refusal error
	mu      struct {
		sync.Mutex
		watches map[string]map[*watch]struct{}
	}
}

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

func startListener(cfg *pgx.ConnConfig) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{cfg: cfg, cancel: cancel, done: make(chan struct{}), ready: make(chan struct{}), refused: make(chan struct{})}
	l.mu.watches = map[string]map[*watch]struct{}{}
	go l.run(ctx)
	return l
}

// stop ends the listener and waits for its goroutine.
func (l *listener) stop() {
	l.cancel()
	<-l.done
}

func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := minBackoff
	for first := true; ; {
		conn, err := pgx.ConnectConfig(ctx, l.cfg)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+channel); err == nil {
				backoff = minBackoff
				if first {
					close(l.ready)
					first = false
				} else {
					// Notifications may have been lost while disconnected.
					l.wakeAll()
				}
				l.receive(ctx, conn)
			}
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Close(closeCtx)
			cancel()
			var pgErr *pgconn.PgError
			if first && errors.As(err, &pgErr) {
				l.refusal = err
				close(l.refused)
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// receive routes notifications until the connection fails or ctx ends.
func (l *listener) receive(ctx context.Context, conn *pgx.Conn) {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		l.wake(n.Payload)
	}
}

func (l *listener) add(key string, w *watch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.watches[key] == nil {
		l.mu.watches[key] = map[*watch]struct{}{}
	}
	l.mu.watches[key][w] = struct{}{}
}

func (l *listener) remove(key string, w *watch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.mu.watches[key], w)
	if len(l.mu.watches[key]) == 0 {
		delete(l.mu.watches, key)
	}
}

func (l *listener) wake(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for w := range l.mu.watches[key] {
		notify(w)
	}
}

func (l *listener) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ws := range l.mu.watches {
		for w := range ws {
			notify(w)
		}
	}
}

func notify(w *watch) {
	select {
	case w.ch <- struct{}{}:
	default: // one is already pending
	}
}
