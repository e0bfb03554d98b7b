package s3_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/s3"
)

// TestErrorClassification puts a failing proxy in front of the fake: a PUT
// the server refuses (403) definitely did not happen; one that fails with a
// server error (500, after the SDK's three attempts) may have; a failed read is
// determinate either way.
func TestErrorClassification(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	fake := gofakes3.New(backend).Server()
	var failWith atomic.Int32 // HTTP status to answer every request with; 0 = pass
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := int(failWith.Load()); code != 0 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(code)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message></Error>`,
				map[int]string{403: "AccessDenied", 500: "InternalError"}[code])
			return
		}
		fake.ServeHTTP(w, r)
	}))
	defer server.Close()
	b, err := s3.Open(t.Context(), "s3://b?region=us-east-1&endpoint="+server.URL+"&use_path_style=true&disable_https=true")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	for _, tc := range []struct {
		status           int
		setIndeterminate bool
		getIndeterminate bool
	}{
		{403, false, false},
		{500, true, false},
	} {
		failWith.Store(int32(tc.status))
		err := b.Set(t.Context(), "k", []byte("v"))
		if err == nil || location.IsIndeterminate(err) != tc.setIndeterminate {
			t.Errorf("Set answered %d: %v, want indeterminate=%v", tc.status, err, tc.setIndeterminate)
		}
		_, _, err = b.Get(t.Context(), "k")
		if err == nil || location.IsIndeterminate(err) != tc.getIndeterminate {
			t.Errorf("Get answered %d: %v, want indeterminate=%v", tc.status, err, tc.getIndeterminate)
		}
	}
	failWith.Store(0)
	if err := b.Set(t.Context(), "k", []byte("v")); err != nil {
		t.Fatalf("Set after the faults cleared: %v", err)
	}
}
