package s3_test

import (
	"net/http"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
)

// TestErrorClassification puts a failing front before the fake (faultyS3): a PUT
// the server refuses (403) definitely did not happen; one that fails with a
// server error (500, after the SDK's three attempts) may have; a failed read is
// determinate either way.
func TestErrorClassification(t *testing.T) {
	f := newFaultyS3(t)
	b := f.open(t, "")
	for _, tc := range []struct {
		status           int
		code             string
		setIndeterminate bool
		getIndeterminate bool
	}{
		{http.StatusForbidden, "AccessDenied", false, false},
		{http.StatusInternalServerError, "InternalError", true, false},
	} {
		f.setFault(func(w http.ResponseWriter, _ *http.Request, _ http.Handler) bool {
			s3Error(w, tc.status, tc.code)
			return true
		})
		err := b.Set(t.Context(), "k", []byte("v"))
		if err == nil || location.IsIndeterminate(err) != tc.setIndeterminate {
			t.Errorf("Set answered %d: %v, want indeterminate=%v", tc.status, err, tc.setIndeterminate)
		}
		_, _, err = b.Get(t.Context(), "k")
		if err == nil || location.IsIndeterminate(err) != tc.getIndeterminate {
			t.Errorf("Get answered %d: %v, want indeterminate=%v", tc.status, err, tc.getIndeterminate)
		}
	}
	f.setFault(nil)
	if err := b.Set(t.Context(), "k", []byte("v")); err != nil {
		t.Fatalf("Set after the faults cleared: %v", err)
	}
}
