package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardflow/shardflow/persist"
	"github.com/shardflow/shardflow/persist/location"
	"github.com/shardflow/shardflow/persist/location/file"
	"github.com/shardflow/shardflow/persist/location/sqlite"
)

// clientOptions are the persist options of the command: a listen that waits
// on another process's writes polls at least every 250ms, so --follow shows
// a write well within a second.
var clientOptions = persist.ClientOptions{
	LeaseDuration: leaseDuration,
	ListenPollMin: 10 * time.Millisecond,
	ListenPollMax: 250 * time.Millisecond,
}

// leaseDuration is how long a reader or writer of a process that died stays
// registered.
const leaseDuration = 15 * time.Minute

// store is an open location and a client of it.
type store struct {
	loc    persist.Location
	client *persist.Client
	// blobDir is the directory of the default location's blobs, "" for a
	// location given by URL.
	blobDir string
	// listShards is the command that lists the location's shards.
	listShards string
}

func (s *store) Close() error { return s.loc.Close() }

// open opens the location named by the global flags. Commands that only
// read pass create=false: a default location that does not exist is then an
// error rather than an empty directory left behind.
func (g *globals) open(ctx context.Context, create bool) (*store, error) {
	return g.openWith(ctx, create, clientOptions)
}

// openForReading opens an existing location for the commands that only
// read state and blobs (shards, inspect, replay): its file blob store
// read-only (mode=ro), so that no directory is created. Where the location
// cannot be opened so (it is read-only, or another user's), it is opened
// read-only altogether: nothing is created or written, and a sqlite or
// PostgreSQL consensus URL gets mode=ro too. If that fails too, the first
// error is the one reported.
func (g *globals) openForReading(ctx context.Context) (*store, error) {
	st, err := g.openAs(ctx, readBlobs, clientOptions)
	if err == nil || !mayBeReadOnly(ctx, err) {
		return st, err
	}
	st, rerr := g.openAs(ctx, readOnly, clientOptions)
	if rerr != nil {
		return nil, err
	}
	g.log.Debug("opened the location read-only", "because", err)
	return st, nil
}

// openReadOnly opens an existing location for the commands that read
// state and blobs and register nothing (shards, inspect): read-only
// altogether, so that they write nothing, not even a migration of an
// older log or a new log's layout into an empty file.
func (g *globals) openReadOnly(ctx context.Context) (*store, error) {
	return g.openAs(ctx, readOnly, clientOptions)
}

// mayBeReadOnly reports whether opening the location read-only may succeed
// where opening it as usual failed with err: not if the store could not be
// reached, nor for a URL that names no store, nor once ctx is done.
// (Trying would fail the same way, after as long: a second connect
// timeout, say.)
func mayBeReadOnly(ctx context.Context, err error) bool {
	var netErr net.Error
	return ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.As(err, &netErr) && !errors.Is(err, location.ErrBadURL)
}

// openWith is open with a client of the given options.
func (g *globals) openWith(ctx context.Context, create bool, opts persist.ClientOptions) (*store, error) {
	a := existing
	if create {
		a = creating
	}
	return g.openAs(ctx, a, opts)
}

// access is what a command does with its location.
type access int

const (
	creating  access = iota // writes, creating the location if need be
	existing                // writes to an existing location
	readBlobs               // reads blobs, and may write state (register a reader)
	readOnly                // writes nothing
)

// openAs opens the location for the access a. Only creating creates
// anything: the others need the consensus to exist, and from readBlobs on
// a file blob store is opened with mode=ro, which creates no directory.
func (g *globals) openAs(ctx context.Context, a access, opts persist.ClientOptions) (*store, error) {
	create := a == creating
	if g.blob != "" {
		// A URL that names no store is a bad flag value, whatever else is
		// wrong; so is a pair that cannot work together. (Both are
		// location.ErrBadURL, which openForReading does not retry.)
		if err := errors.Join(location.CheckBlobURL(g.blob), location.CheckConsensusURL(g.consensus)); err != nil {
			return nil, &exitError{code: ExitUsage, err: err}
		}
		if err := memBlobDurableState(g.blob, g.consensus); err != nil {
			return nil, &exitError{code: ExitUsage, err: location.BadURL(err)}
		}
		if hasScheme(g.blob, "mem") || hasScheme(g.consensus, "mem") {
			g.log.Warn("mem:// storage lasts only as long as this command: what it writes is gone when it exits",
				"blob", redactURL(g.blob), "consensus", redactURL(g.consensus))
		}
		if !create {
			if err := sqliteMustExist(g.consensus); err != nil {
				return nil, err
			}
		}
		if a == existing {
			// It writes, so fileblob would make a missing directory: a
			// mistyped --blob would then be an empty store found at once.
			if err := fileBlobMustExist(g.blob); err != nil {
				return nil, err
			}
		}
		blob, consensus := g.blob, g.consensus
		if a >= readBlobs {
			blob = readOnlyURL(blob)
		}
		if a == readOnly {
			consensus = readOnlyURL(consensus)
		}
		loc, err := persist.OpenLocation(ctx, blob, consensus)
		if errors.Is(err, location.ErrBadURL) {
			return nil, &exitError{code: ExitUsage, err: err} // the flag's value, not the store
		}
		if err != nil {
			return nil, failure(err)
		}
		return &store{loc: loc, client: persist.NewClient(loc, opts), listShards: g.commandLine("shards")}, nil
	}
	if fi, err := os.Stat(g.location); (err == nil && !fi.IsDir()) || errors.Is(err, syscall.ENOTDIR) {
		return nil, failure(fmt.Errorf("--location %s: not a directory", g.location))
	}
	if !create {
		if _, err := os.Stat(filepath.Join(g.location, "consensus.db")); errors.Is(err, fs.ErrNotExist) {
			return nil, failure(fmt.Errorf("no shards at %s (write one first, or pass --location)", g.location))
		}
	}
	var loc persist.Location
	var err error
	switch a {
	case creating, existing:
		loc, err = persist.DefaultLocation(ctx, g.location)
	case readBlobs:
		var dir string
		if dir, err = filepath.Abs(g.location); err == nil {
			blob, consensus := persist.DefaultURLs(dir)
			loc, err = persist.OpenLocation(ctx, readOnlyURL(blob), consensus)
		}
	case readOnly:
		loc, err = persist.DefaultLocationReadOnly(ctx, g.location)
	}
	if err != nil {
		return nil, failure(err)
	}
	g.log.Debug("opened location", "dir", g.location)
	return &store{loc: loc, client: persist.NewClient(loc, opts), blobDir: filepath.Join(g.location, "blob"), listShards: g.commandLine("shards")}, nil
}

// memBlobDurableState refuses a mem:// blob store beside a consensus that
// outlives the command: the state would name parts that are gone once the
// command exits, so every later read of the shard would find them missing
// and freeze. (The other way round only loses the whole location, which
// the warning says.)
func memBlobDurableState(blob, consensus string) error {
	if !hasScheme(blob, "mem") || hasScheme(consensus, "mem") {
		return nil
	}
	return fmt.Errorf("--blob %s with --consensus %s: the state would outlive the parts it names, which are gone when this command exits; use mem:// for both, or a blob store that lasts",
		redactURL(blob), redactURL(consensus))
}

// hasScheme reports whether rawURL has the given scheme, in any case.
func hasScheme(rawURL, scheme string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && strings.EqualFold(u.Scheme, scheme)
}

// sqliteMustExist refuses a sqlite consensus URL naming a file that does
// not exist, for the commands that only read: opening it would create an
// empty database and report no shards, leaving the file behind.
func sqliteMustExist(consensus string) error {
	u, err := url.Parse(consensus)
	if err != nil || u.Scheme != "sqlite" {
		return nil // not sqlite, or left for OpenLocation to refuse
	}
	path, _, err := sqlite.ParseURL(u)
	if err != nil {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return failure(fmt.Errorf("no shards at --consensus %s: %s does not exist (write one first)", consensus, path))
	}
	return nil
}

// fileBlobMustExist refuses a file blob URL whose directory does not exist.
func fileBlobMustExist(blob string) error {
	u, err := url.Parse(blob)
	if err != nil || u.Scheme != "file" {
		return nil // not file, or left for OpenLocation to refuse
	}
	dir, err := file.ParseURL(u)
	if err != nil {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return failure(fmt.Errorf("no blobs at --blob %s: %s does not exist", blob, dir))
	}
	return nil
}

// readOnlyURL adds mode=ro to a file, sqlite or PostgreSQL URL that has no
// mode; other URLs are returned as they are. It appends to the text
// the user gave, which is never re-encoded (a query url.ParseQuery rejects
// in part would lose that part).
func readOnlyURL(consensus string) string {
	u, err := url.Parse(consensus)
	if err != nil || (u.Scheme != "file" && u.Scheme != "sqlite" && u.Scheme != "postgres" && u.Scheme != "postgresql") ||
		u.Fragment != "" || strings.HasSuffix(consensus, "#") {
		return consensus
	}
	if q, _ := url.ParseQuery(u.RawQuery); q.Has("mode") {
		return consensus
	}
	switch {
	case u.RawQuery != "":
		return consensus + "&mode=ro"
	case strings.HasSuffix(consensus, "?"):
		return consensus + "mode=ro"
	}
	return consensus + "?mode=ro"
}

// redactURL is a store URL fit for messages: without the password of its
// user part, and without anything at all if that part did not parse as
// one (a password written unescaped may hold '/', '?', '#' or '@'); with
// no parameters if one is named for a secret (password, sslpassword,
// token, secret, s3's kmskeyid and role); and without what could hide a
// password where those are not looked for (a fragment, an opaque URL, a
// keyword/value string).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "(unparsable url)"
	case u.Scheme == "":
		return "(not a url: not shown)"
	case u.Opaque != "":
		return u.Scheme + ":(not shown)"
	}
	rest, ok := strings.CutPrefix(raw[len(u.Scheme):], "://")
	if !ok {
		return u.Scheme + ":(not shown)"
	}
	creds := ""
	if u.User != nil && strings.HasPrefix(rest, u.User.String()+"@") {
		// The user part parsed as one, exactly as written: its name is
		// shown, its password not.
		rest = rest[len(u.User.String())+1:]
		creds = url.User(u.User.Username()).String() + "@" // escaped: u%3Ax is no password
		if _, ok := u.User.Password(); ok {
			creds = url.UserPassword(u.User.Username(), "xxxxx").String() + "@"
		}
	}
	if strings.Contains(rest, "@") {
		// An '@' left over may end credentials url.Parse split elsewhere
		// (an unescaped password), and then anything after it may hold
		// some: nothing is shown.
		return u.Scheme + "://(not shown)"
	}
	v, err := url.Parse(u.Scheme + "://" + rest)
	if err != nil || v.Opaque != "" {
		return u.Scheme + "://" + creds + "(not shown)"
	}
	q, err := url.ParseQuery(v.RawQuery)
	if err != nil {
		v.RawQuery = "(parameters not shown)"
	}
	for k := range q {
		l := strings.ToLower(k)
		if strings.Contains(l, "password") || strings.Contains(l, "secret") || strings.Contains(l, "token") ||
			l == "kmskeyid" || l == "role" {
			v.RawQuery = "(parameters not shown)"
			break
		}
	}
	v.Fragment, v.RawFragment = "", ""
	tail := strings.TrimPrefix(strings.TrimPrefix(v.String(), v.Scheme+":"), "//")
	return u.Scheme + "://" + creds + tail
}

// addShardFlag adds the required --shard flag.
func addShardFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "shard", "", "shard name: 1 to 128 characters of A-Z a-z 0-9 _ . - (required)")
	_ = cmd.MarkFlagRequired("shard")
}

// shardID validates a --shard value.
func shardID(name string) (persist.ShardID, error) {
	id := persist.ShardID(name)
	if err := id.Validate(); err != nil {
		return "", usageErrorf("--shard: invalid shard name %q: want 1 to 128 characters of A-Z a-z 0-9 _ . - (not . or ..)", name)
	}
	return id, nil
}

// mustExist reports an error if the shard has no state yet.
func (s *store) mustExist(ctx context.Context, id persist.ShardID) error {
	ok, err := s.exists(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return s.errNoShard(id)
	}
	return nil
}

// exists reports whether the shard has state.
func (s *store) exists(ctx context.Context, id persist.ShardID) (bool, error) {
	ids, err := s.client.ListShards(ctx)
	if err != nil {
		return false, failure(err)
	}
	return slices.Contains(ids, id), nil
}

// readOnlyRefused says, of a failure to write to storage opened read-only
// (a URL with mode=ro, a read-only mount), that cmd needs storage it can
// write to and what became of its work; other errors are returned as they
// are.
func readOnlyRefused(cmd, outcome string, err error) error {
	if !errors.Is(err, location.ErrReadOnly) {
		return err
	}
	return failure(fmt.Errorf("%s needs storage it can write to, and this is read-only (drop mode=ro from a URL that has it); %s: %w", cmd, outcome, err))
}

// errNoShard is the failure of a command given a shard with no state.
func (s *store) errNoShard(id persist.ShardID) error {
	return failure(fmt.Errorf("shard %q does not exist ('%s' lists them)", id, s.listShards))
}

// times returns a frontier's elements.
func times(f persist.Frontier) []uint64 {
	out := make([]uint64, 0, f.Len())
	for _, t := range f.Elements() {
		out = append(out, uint64(t))
	}
	return out
}
