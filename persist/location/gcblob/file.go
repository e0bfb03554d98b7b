package gcblob

import "os"

// fileOf extracts the *os.File a fileblob writer exposes through As, or
// returns nil for other drivers.
func fileOf(as func(any) bool) any {
	var f *os.File
	if as(&f) && f != nil {
		return f
	}
	return nil
}
