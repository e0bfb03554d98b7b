package shardsource

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location/mem"
)

// A caller waiting for another's ClientFunc call returns when its own
// context is done, without waiting for that call; the call's client is
// then kept and handed to every later caller; a failed call is retried by
// the next caller.
func TestClientOnceWaitersHonourTheirContext(t *testing.T) {
	client := persist.NewClient(persist.Location{Blob: mem.NewBlob(), Consensus: mem.NewConsensus()}, persist.ClientOptions{})
	gate, entered := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	o := &clientOnce{fn: func(context.Context) (*persist.Client, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("connect refused") // the first call fails
		}
		close(entered)
		<-gate // a slow connect that ignores its context
		return client, nil
	}}
	if _, err := o.get(context.Background()); err == nil {
		t.Fatal("the failing call returned a client")
	}
	first := make(chan error, 1)
	go func() {
		c, err := o.get(context.Background())
		if err == nil && c != client {
			err = errors.New("another client")
		}
		first <- err
	}()
	select { // the second call is under way
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the retry never called the ClientFunc")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	waiter := make(chan error, 1)
	go func() {
		_, err := o.get(ctx)
		waiter <- err
	}()
	select {
	case err := <-waiter:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("a waiter with a cancelled context got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		close(gate)
		<-first
		<-waiter
		t.Fatal("a waiter with a cancelled context waited for the other call")
	}
	close(gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if c, err := o.get(context.Background()); err != nil || c != client {
		t.Fatalf("a later caller got %v, %v", c, err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d ClientFunc calls, want 2 (one failed, one kept)", n)
	}
}

// A ClientFunc that panics (which the fetch calling it reports as its
// error) leaves no call under way: the calls waiting for it go on, and the
// next one calls the ClientFunc again. The panic used to leave the call
// running for ever, so every later fetch on the worker waited for it until
// its own context ended, and FetchSettled never said the source froze.
func TestClientOnceAfterPanic(t *testing.T) {
	client := persist.NewClient(persist.Location{Blob: mem.NewBlob(), Consensus: mem.NewConsensus()}, persist.ClientOptions{})
	var calls atomic.Int32
	entered, proceed := make(chan struct{}), make(chan struct{})
	o := &clientOnce{fn: func(context.Context) (*persist.Client, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-proceed
			panic("connect boom")
		}
		return client, nil
	}}
	first := make(chan error, 1)
	go func() {
		_, err := fetchRecovering(context.Background(), func(ctx context.Context, _ int) (*persist.Client, error) { return o.get(ctx) }, 0)
		first <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second := make(chan *persist.Client, 1)
	go func() {
		c, _ := o.get(ctx) // waits for the first call, or finds it over
		second <- c
	}()
	close(proceed)
	if err := <-first; err == nil || !strings.Contains(err.Error(), "connect boom") {
		t.Fatalf("the panicking call's fetch: %v, want the panic as its error", err)
	}
	if c := <-second; c != client {
		t.Fatalf("a call after the panic got %v (ClientFunc called %d times), want the client of a new call", c, calls.Load())
	}
}
