package persist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shardflow/shardflow/persist/location"
	// The backends every program gets: in-memory, file blob and the
	// embedded consensus. Others (postgres, s3) register when imported.
	_ "github.com/shardflow/shardflow/persist/location/file"
	_ "github.com/shardflow/shardflow/persist/location/mem"
	_ "github.com/shardflow/shardflow/persist/location/sqlite"
)

// Location is where shards live: a Blob store for parts and a Consensus log
// for state versions.
type Location struct {
	Blob      location.Blob
	Consensus location.Consensus
}

// Close closes both stores.
func (l Location) Close() error {
	return errors.Join(l.Blob.Close(), l.Consensus.Close())
}

// OpenLocation opens a Blob and a Consensus by URL (see the backends
// registered with persist/location: mem://, file://, sqlite://, ...).
func OpenLocation(ctx context.Context, blobURL, consensusURL string) (Location, error) {
	// Both URLs are checked before either store is opened: a bad consensus
	// URL must not follow a blob directory created or a bucket contacted.
	if err := location.CheckBlobURL(blobURL); err != nil {
		return Location{}, fmt.Errorf("persist: open blob: %w", err)
	}
	if err := location.CheckConsensusURL(consensusURL); err != nil {
		return Location{}, fmt.Errorf("persist: open consensus: %w", err)
	}
	b, err := location.OpenBlob(ctx, blobURL)
	if err != nil {
		return Location{}, fmt.Errorf("persist: open blob: %w", err)
	}
	c, err := location.OpenConsensus(ctx, consensusURL)
	if err != nil {
		b.Close()
		return Location{}, fmt.Errorf("persist: open consensus: %w", err)
	}
	return Location{Blob: b, Consensus: c}, nil
}

// DefaultLocation opens the single-machine default under dir: a file blob
// store at dir/blob and an embedded SQLite consensus at dir/consensus.db.
func DefaultLocation(ctx context.Context, dir string) (Location, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Location{}, fmt.Errorf("persist: default location: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(abs, "blob"), 0o755); err != nil {
		return Location{}, fmt.Errorf("persist: default location: %w", err)
	}
	blobURL, consensusURL := DefaultURLs(abs)
	return OpenLocation(ctx, blobURL, consensusURL)
}

// DefaultLocationReadOnly opens the default location under dir for reading
// only: it creates nothing, its blob store and consensus refuse writes
// with location.ErrReadOnly, and dir may be on a read-only file system or
// owned by another user. A missing dir/blob reads as an empty blob store
// until a writer creates it (see file.OpenReadOnly): a location whose
// batches all live in its state needs none. What reads a shard's state or verifies its parts works,
// and so does an unregistered reader (OpenUnregisteredReader); what
// registers a reader or writer does not.
func DefaultLocationReadOnly(ctx context.Context, dir string) (Location, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Location{}, fmt.Errorf("persist: default location: %w", err)
	}
	blobURL, consensusURL := DefaultURLs(abs)
	return OpenLocation(ctx, blobURL+"?mode=ro", consensusURL+"?mode=ro")
}

// DefaultURLs returns the URLs of the default location in the absolute
// directory dir: a file blob at dir/blob and the embedded consensus at
// dir/consensus.db, for handing to another process or to OpenLocation.
func DefaultURLs(dir string) (blobURL, consensusURL string) {
	return location.PathURL("file", filepath.Join(dir, "blob")), location.PathURL("sqlite", filepath.Join(dir, "consensus.db"))
}
