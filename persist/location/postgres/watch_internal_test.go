package postgres

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shardflow/shardflow/persist/location"
)

// A server that refuses LISTEN, as a hot standby does during recovery:
// Watch fails at once, and again at once later, instead of waiting out its
// context while the listener retries for ever; readers then poll.
func TestWatchWhereListenIsRefused(t *testing.T) {
	srv := newRefusingServer(t)
	c := srv.consensus(t)
	for i := range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, _, err := c.Watch(ctx, "k")
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "during recovery") || location.IsIndeterminate(err) {
			t.Fatalf("watch %d where LISTEN is refused: %v, want the server's refusal", i, err)
		}
	}
	if n := srv.listens.Load(); n != 1 {
		t.Fatalf("%d LISTENs sent, want 1: a refusal is not retried", n)
	}
}

// consensus returns a Consensus of the server, closed when the test ends.
func (s *refusingServer) consensus(t *testing.T) *Consensus {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), "postgres://u@"+s.addr+"/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	c := &Consensus{pool: pool, name: "refusing"}
	t.Cleanup(func() { c.Close() })
	return c
}

// refusingServer speaks just enough of the protocol for pgx to connect,
// and answers every query with the error a hot standby gives LISTEN.
type refusingServer struct {
	addr    string
	listens atomic.Int32
}

func newRefusingServer(t *testing.T) *refusingServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &refusingServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				s.serve(conn)
			})
		}
	})
	return s
}

func (s *refusingServer) serve(conn net.Conn) {
	be := pgproto3.NewBackend(conn, conn)
	msg, err := be.ReceiveStartupMessage()
	if _, ok := msg.(*pgproto3.SSLRequest); ok && err == nil {
		if _, err := conn.Write([]byte("N")); err != nil {
			return
		}
		msg, err = be.ReceiveStartupMessage()
	}
	if _, ok := msg.(*pgproto3.StartupMessage); !ok || err != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 2}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			if strings.HasPrefix(m.String, "LISTEN") {
				s.listens.Add(1)
			}
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "25006", Message: "cannot execute LISTEN during recovery"})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			if be.Flush() != nil {
				return
			}
		case *pgproto3.Terminate:
			return
		}
	}
}

// A Watch waiting for the listener's first LISTEN returns ErrClosed when
// the store is closed meanwhile; before, a stopped listener closed neither
// of the channels it waited on, so a Watch with a context that never ends
// blocked for ever.
func TestWatchReturnsWhenClosedBeforeListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there: the listener retries for ever
	pool, err := pgxpool.New(t.Context(), "postgres://u@"+addr+"/db?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	c := &Consensus{pool: pool, name: "unreachable"}
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Watch(context.Background(), "k")
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !watching(c, "k") {
		if time.Now().After(deadline) {
			t.Fatal("Watch never registered with the listener")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, location.ErrClosed) || location.IsIndeterminate(err) {
			t.Fatalf("Watch after Close: %v, want a determinate ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch still blocked 10s after Close")
	}
}

// watching reports whether a watch of key is registered with c's listener.
func watching(c *Consensus, key string) bool {
	c.mu.Lock()
	l := c.mu.listener
	c.mu.Unlock()
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mu.watches[key]) > 0
}

// Once the server has refused LISTEN the listener has returned, so both its
// refused and its done channels are closed; every later Watch on the open
// store must still report the refusal, never "store closed" (the select
// between the two picked either at random).
func TestWatchRefusedIsNotReportedAsClosed(t *testing.T) {
	srv := newRefusingServer(t)
	c := srv.consensus(t)
	if _, _, err := c.Watch(t.Context(), "k"); err == nil {
		t.Fatal("first Watch where LISTEN is refused: no error")
	}
	c.mu.Lock()
	l := c.mu.listener
	c.mu.Unlock()
	<-l.done // the listener has returned after the refusal
	for i := range 50 {
		_, _, err := c.Watch(context.Background(), "k")
		if err == nil || errors.Is(err, location.ErrClosed) || !strings.Contains(err.Error(), "during recovery") {
			t.Fatalf("watch %d on an open store whose server refuses LISTEN: %v, want the refusal", i, err)
		}
	}
}
