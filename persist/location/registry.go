package location

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
)

// BlobOpener opens a Blob from a URL of a registered scheme.
type BlobOpener func(ctx context.Context, u *url.URL) (Blob, error)

// ConsensusOpener opens a Consensus from a URL of a registered scheme.
type ConsensusOpener func(ctx context.Context, u *url.URL) (Consensus, error)

// URLCheck checks the form of a URL of a registered scheme without opening
// or contacting anything: the error of a URL its opener would refuse for
// its form alone, or nil.
type URLCheck func(u *url.URL) error

var registry struct {
	sync.Mutex
	blob      map[string]BlobOpener
	consensus map[string]ConsensusOpener
	checks    map[string]URLCheck // by kind ("blob", "consensus") + ":" + scheme
}

// RegisterURLCheck makes CheckBlobURL (kind "blob") or CheckConsensusURL
// (kind "consensus") check a URL of scheme with fn. Backends call it from
// init beside RegisterBlob or RegisterConsensus.
func RegisterURLCheck(kind, scheme string, fn URLCheck) {
	registry.Lock()
	defer registry.Unlock()
	if registry.checks == nil {
		registry.checks = map[string]URLCheck{}
	}
	registry.checks[kind+":"+scheme] = fn
}

// CheckBlobURL reports, opening nothing, whether rawURL names a blob store
// by its form: an error matching ErrBadURL if not, nil if a backend may
// open it (which may still fail: the store may not be there).
func CheckBlobURL(rawURL string) error { return checkURL("blob", rawURL) }

// CheckConsensusURL is CheckBlobURL for a consensus URL.
func CheckConsensusURL(rawURL string) error { return checkURL("consensus", rawURL) }

func checkURL(kind, rawURL string) error {
	u, err := parseURL(rawURL)
	if err != nil {
		return fmt.Errorf("location: %s url: %w", kind, err)
	}
	registry.Lock()
	var known []string
	ok := false
	if kind == "blob" {
		_, ok = registry.blob[u.Scheme]
		known = keys(registry.blob)
	} else {
		_, ok = registry.consensus[u.Scheme]
		known = keys(registry.consensus)
	}
	check := registry.checks[kind+":"+u.Scheme]
	registry.Unlock()
	if !ok {
		return &UnknownSchemeError{Kind: kind, Scheme: u.Scheme, Known: known}
	}
	if check != nil {
		return BadURL(check(u))
	}
	return nil
}

// RegisterBlob makes scheme open with fn. Backends call it from init; a
// second registration of a scheme panics.
func RegisterBlob(scheme string, fn BlobOpener) {
	registry.Lock()
	defer registry.Unlock()
	if registry.blob == nil {
		registry.blob = map[string]BlobOpener{}
	}
	if _, dup := registry.blob[scheme]; dup {
		panic("location: blob scheme registered twice: " + scheme)
	}
	registry.blob[scheme] = fn
}

// RegisterConsensus makes scheme open with fn. Backends call it from init; a
// second registration of a scheme panics.
func RegisterConsensus(scheme string, fn ConsensusOpener) {
	registry.Lock()
	defer registry.Unlock()
	if registry.consensus == nil {
		registry.consensus = map[string]ConsensusOpener{}
	}
	if _, dup := registry.consensus[scheme]; dup {
		panic("location: consensus scheme registered twice: " + scheme)
	}
	registry.consensus[scheme] = fn
}

// UnknownSchemeError is returned for a URL whose scheme no backend
// registered.
type UnknownSchemeError struct {
	Kind   string // "blob" or "consensus"
	Scheme string
	Known  []string
}

// Is makes an unknown scheme match ErrBadURL.
func (e *UnknownSchemeError) Is(target error) bool { return target == ErrBadURL }

func (e *UnknownSchemeError) Error() string {
	return fmt.Sprintf("location: no %s backend for scheme %q (known: %v)", e.Kind, e.Scheme, e.Known)
}

// OpenBlob opens a Blob from rawURL by its scheme.
func OpenBlob(ctx context.Context, rawURL string) (Blob, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("location: blob url: %w", err)
	}
	registry.Lock()
	fn, ok := registry.blob[u.Scheme]
	known := keys(registry.blob)
	registry.Unlock()
	if !ok {
		return nil, &UnknownSchemeError{Kind: "blob", Scheme: u.Scheme, Known: known}
	}
	return fn(ctx, u)
}

// OpenConsensus opens a Consensus from rawURL by its scheme.
func OpenConsensus(ctx context.Context, rawURL string) (Consensus, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("location: consensus url: %w", err)
	}
	registry.Lock()
	fn, ok := registry.consensus[u.Scheme]
	known := keys(registry.consensus)
	registry.Unlock()
	if !ok {
		return nil, &UnknownSchemeError{Kind: "consensus", Scheme: u.Scheme, Known: known}
	}
	return fn(ctx, u)
}

// parseURL is url.Parse with an error that quotes nothing of the URL,
// which may hold a password: url.Parse's own errors quote the URL, and
// some of their causes quote a piece of it (a password holding a '/'
// ends the host early, and url.Parse calls the password an invalid port).
func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, ErrUnparsableURL
	}
	return u, nil
}

// ErrUnparsableURL is returned, wrapped, for a URL that does not parse. It
// matches ErrBadURL.
var ErrUnparsableURL error = badURL{errors.New("does not parse as a URL (a '/', '?', '#', '@' or '%' in a user name or password must be percent-encoded)")}

// ErrBadURL is matched (errors.Is) by the error of a store URL that names
// no store, whatever the store holds: it does not parse, its scheme has no
// backend, or its backend refuses its form or parameters. The store it
// names was not opened or contacted (persist.OpenLocation checks both of
// its URLs before it opens either); the URL itself must change.
var ErrBadURL = errors.New("location: bad store URL")

// BadURL returns err, which a backend gave for the form of its URL, made
// to match ErrBadURL too. Its message is err's.
func BadURL(err error) error {
	if err == nil {
		return nil
	}
	return badURL{err}
}

type badURL struct{ err error }

func (e badURL) Error() string        { return e.err.Error() }
func (e badURL) Unwrap() error        { return e.err }
func (e badURL) Is(target error) bool { return target == ErrBadURL }

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
