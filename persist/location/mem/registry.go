package mem

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

func init() {
	check := func(u *url.URL) error { _, err := nameOf(u); return err }
	location.RegisterURLCheck("blob", "mem", check)
	location.RegisterURLCheck("consensus", "mem", check)
	location.RegisterBlob("mem", func(_ context.Context, u *url.URL) (location.Blob, error) {
		name, err := nameOf(u)
		if err != nil {
			return nil, location.BadURL(err)
		}
		return OpenBlob(name), nil
	})
	location.RegisterConsensus("mem", func(_ context.Context, u *url.URL) (location.Consensus, error) {
		name, err := nameOf(u)
		if err != nil {
			return nil, location.BadURL(err)
		}
		return OpenConsensus(name), nil
	})
}

// named holds the process's named stores; they live as long as the process.
var named struct {
	sync.Mutex
	blobs     map[string]*blobStore
	consensus map[string]*consensusStore
}

// nameOf returns NAME of mem://NAME (or mem:NAME).
func nameOf(u *url.URL) (string, error) {
	// mem://a/b and mem://ab are two stores; mem:///ab is mem://ab.
	name := u.Host + u.Path
	if u.Host == "" {
		name = strings.TrimPrefix(u.Path, "/")
	}
	if u.Opaque != "" {
		name = u.Opaque
	}
	if u.RawQuery != "" {
		return "", fmt.Errorf("mem: url %q: no query parameters are supported", u.Redacted())
	}
	return name, nil
}

// OpenBlob returns a handle to the process-wide blob store called name,
// creating it empty on first use. The empty name opens a fresh private store.
func OpenBlob(name string) *Blob {
	if name == "" {
		return NewBlob()
	}
	named.Lock()
	defer named.Unlock()
	if named.blobs == nil {
		named.blobs = map[string]*blobStore{}
	}
	s, ok := named.blobs[name]
	if !ok {
		s = newBlobStore(time.Now)
		named.blobs[name] = s
	}
	return &Blob{store: s}
}

// OpenConsensus returns a handle to the process-wide consensus store called
// name, creating it empty on first use. The empty name opens a fresh private
// store.
func OpenConsensus(name string) *Consensus {
	if name == "" {
		return NewConsensus()
	}
	named.Lock()
	defer named.Unlock()
	if named.consensus == nil {
		named.consensus = map[string]*consensusStore{}
	}
	s, ok := named.consensus[name]
	if !ok {
		s = newConsensusStore()
		named.consensus[name] = s
	}
	return &Consensus{store: s}
}
