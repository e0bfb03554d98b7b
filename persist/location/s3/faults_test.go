package s3_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/s3"
)

// faultyS3 serves an in-memory S3 with one bucket, "b", through fault:
// when it is set, it may answer a request itself (it returns true) or
// hand it on to the fake with a ResponseWriter of its own.
type faultyS3 struct {
	fake    http.Handler
	server  *httptest.Server
	fault   atomic.Pointer[func(w http.ResponseWriter, r *http.Request, fake http.Handler) bool]
	deletes atomic.Int32 // DELETE requests received
}

func newFaultyS3(t *testing.T) *faultyS3 {
	backend := s3mem.New()
	if err := backend.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	f := &faultyS3{fake: gofakes3.New(backend).Server()}
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			f.deletes.Add(1)
		}
		if fault := f.fault.Load(); fault != nil && (*fault)(w, r, f.fake) {
			return
		}
		f.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(f.server.Close)
	return f
}

// url is the bucket's URL, with extra query parameters.
func (f *faultyS3) url(extra string) string {
	return "s3://b?region=us-east-1&endpoint=" + f.server.URL + "&use_path_style=true&disable_https=true" + extra
}

func (f *faultyS3) setFault(fault func(w http.ResponseWriter, r *http.Request, fake http.Handler) bool) {
	if fault == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&fault)
}

func (f *faultyS3) open(t *testing.T, extra string) location.Blob {
	b, err := s3.Open(t.Context(), f.url(extra))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// isObject reports whether r is about an object, not the bucket.
func isObject(r *http.Request) bool { return strings.Trim(r.URL.Path, "/") != "b" }

// s3Error answers with an S3 error document.
func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message></Error>`, code)
}

// cutWriter passes a response on but stops after limit bytes of body,
// keeping the Content-Length the server announced: the connection then
// ends mid-body, as a reset or a proxy's timeout would end it.
type cutWriter struct {
	http.ResponseWriter
	limit, n int
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		p = p[:w.limit-w.n]
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += n
	return n, err
}

// TestGetCutShortFails: a GET whose body ends before its Content-Length is
// a failed read, not a shorter value. (It read as the value's first bytes,
// and persist then called an intact part corrupt.)
func TestGetCutShortFails(t *testing.T) {
	f := newFaultyS3(t)
	b := f.open(t, "")
	value := bytes.Repeat([]byte("x"), 1000)
	if err := b.Set(t.Context(), "k", value); err != nil {
		t.Fatal(err)
	}
	f.setFault(func(w http.ResponseWriter, r *http.Request, fake http.Handler) bool {
		if r.Method != http.MethodGet || !isObject(r) {
			return false
		}
		fake.ServeHTTP(&cutWriter{ResponseWriter: w, limit: 10}, r)
		return true
	})
	for _, dst := range [][]byte{nil, make([]byte, 0, 4096)} {
		got, ok, err := b.(location.IntoGetter).GetInto(t.Context(), "k", dst)
		if !errors.Is(err, io.ErrUnexpectedEOF) || location.IsIndeterminate(err) {
			t.Errorf("GetInto(cap %d) of %d bytes cut after 10: ok %v, %d bytes, %v; want a determinate io.ErrUnexpectedEOF", cap(dst), len(value), ok, len(got), err)
		}
	}
	f.setFault(nil)
	if got, ok, err := b.Get(t.Context(), "k"); err != nil || !ok || !bytes.Equal(got, value) {
		t.Fatalf("Get with the network whole: %d bytes, %v, %v", len(got), ok, err)
	}
}

// TestErrorsQuoteNoQuery: no error of an operation quotes the URL's query,
// which may hold a secret (kmskeyid). (Every one quoted the whole URL.)
func TestErrorsQuoteNoQuery(t *testing.T) {
	f := newFaultyS3(t)
	b := f.open(t, "&ssetype=aws:kms&kmskeyid=SEKRIT-KEY-ID")
	f.setFault(func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		s3Error(w, http.StatusForbidden, "AccessDenied")
		return true
	})
	_, _, getErr := b.Get(t.Context(), "k")
	setErr := b.Set(t.Context(), "k", []byte("v"))
	_, deleteErr := b.Delete(t.Context(), "k")
	listErr := b.List(t.Context(), "", func(location.BlobMeta) error { return nil })
	for op, err := range map[string]error{"get": getErr, "set": setErr, "delete": deleteErr, "list": listErr} {
		if err == nil || strings.Contains(err.Error(), "SEKRIT") || !strings.Contains(err.Error(), "s3://b") {
			t.Errorf("%s: %v; want an error naming the bucket and not the kmskeyid", op, err)
		}
	}
}

// TestDeleteWhoseLookFailsIsDeterminate: a Delete that fails before any
// DELETE is sent (its existence check, a HEAD, fails) certainly deleted
// nothing. (s3blob's own HEAD inside its Delete failed the same way, and
// read as a delete that may have happened.)
func TestDeleteWhoseLookFailsIsDeterminate(t *testing.T) {
	f := newFaultyS3(t)
	b := f.open(t, "")
	if err := b.Set(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	f.setFault(func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.Method != http.MethodHead || !isObject(r) {
			return false
		}
		s3Error(w, http.StatusInternalServerError, "InternalError")
		return true
	})
	existed, err := b.Delete(t.Context(), "k")
	if err == nil || location.IsIndeterminate(err) {
		t.Errorf("Delete whose HEAD fails (%d DELETEs sent): %v, %v; want a determinate error", f.deletes.Load(), existed, err)
	}
	f.setFault(nil)
	if _, ok, err := b.Get(t.Context(), "k"); err != nil || !ok {
		t.Fatalf("the key after the failed delete: %v, %v", ok, err)
	}
}
