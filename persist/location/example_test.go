package location_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/shardflow/shardflow/persist/location"
)

// A caller retries by one rule: a determinate failure definitely did not
// happen, so retrying is safe; an indeterminate one may have happened, so
// the caller must find out (by reading the head, say) before retrying. An
// error that is not an ExternalError counts as indeterminate.
func ExampleIsIndeterminate() {
	refused := location.Determinate("consensus compare-and-set", errors.New("connection refused"))
	timedOut := location.Indeterminate("consensus compare-and-set", context.DeadlineExceeded)
	for _, err := range []error{refused, timedOut, fmt.Errorf("wrapped: %w", timedOut), errors.New("unclassified")} {
		fmt.Println(location.IsIndeterminate(err), err)
	}
	var ext *location.ExternalError
	fmt.Println(errors.As(timedOut, &ext), ext.Op, errors.Is(timedOut, context.DeadlineExceeded))
	// Output:
	// false location: consensus compare-and-set failed: connection refused
	// true location: consensus compare-and-set may have happened: context deadline exceeded
	// true wrapped: location: consensus compare-and-set may have happened: context deadline exceeded
	// true unclassified
	// true consensus compare-and-set true
}

// OpenBlob and OpenConsensus pick a backend by the URL's scheme; a backend
// registers its scheme when its package is imported. An unregistered scheme
// is an *UnknownSchemeError listing the known ones.
func ExampleOpenBlob() {
	_, err := location.OpenBlob(context.Background(), "nosuch://bucket")
	var unknown *location.UnknownSchemeError
	fmt.Println(errors.As(err, &unknown), unknown.Kind, unknown.Scheme)
	// Output:
	// true blob nosuch
}
