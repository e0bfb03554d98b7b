package location_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/shardflow/shardflow/persist/location"
)

// says is an error that says of itself whether it is determinate.
type says bool

func (s says) Error() string     { return fmt.Sprintf("determinate %v", bool(s)) }
func (s says) Determinate() bool { return bool(s) }

// TestIsIndeterminate: an ExternalError decides, wherever it is in the
// chain; then an error saying it is determinate; anything else may have
// happened.
func TestIsIndeterminate(t *testing.T) {
	plain := errors.New("plain")
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{plain, true},
		{location.Determinate("op", plain), false},
		{location.Indeterminate("op", plain), true},
		{fmt.Errorf("wrapped: %w", location.Determinate("op", plain)), false},
		{says(true), false},
		{says(false), true},
		{fmt.Errorf("wrapped: %w", says(true)), false},
		{location.Indeterminate("op", says(true)), true},
		{location.Determinate("op", says(false)), false},
		{fmt.Errorf("%w and %w", says(true), location.Indeterminate("op", plain)), true},
	} {
		if got := location.IsIndeterminate(c.err); got != c.want {
			t.Errorf("IsIndeterminate(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
