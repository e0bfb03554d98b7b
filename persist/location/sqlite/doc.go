// Package sqlite is the embedded, durable location.Consensus: a SQLite
// database file (through the pure-Go modernc.org/sqlite driver) that several
// processes on one machine may share.
//
// # URLs
//
// It registers the consensus scheme "sqlite":
//
//	sqlite:///abs/path/consensus.db   an absolute path
//	sqlite://localhost/abs/path/consensus.db   the same (as RFC 8089 has it for file:)
//	sqlite://./rel/consensus.db       a path relative to the working directory
//	sqlite:rel/consensus.db           the same, without the slashes
//
// (In sqlite://HOST/PATH any other host is read as the first component of
// a relative path.) The file and its -wal and -shm companions are created as
// needed; the directory must exist. The query parameter
// busy_timeout=DURATION (default 10s) bounds how long an operation waits for
// another process's write lock.
//
// The parameter mode=ro (Options.ReadOnly) opens an existing database for
// reading only: nothing is created or migrated, and writes fail with
// location.ErrReadOnly. It reads a database in a directory this process
// cannot write: through the -wal and -shm files of a writer that has it
// open, or, when it was closed cleanly and left none, as an immutable file
// (read so only while nothing writes it: a read that finds it written opens
// it again). Where it can create them, a read-only handle may leave empty
// -wal and -shm files behind.
//
// A handle opened for writing may still be refused: a database another
// user owns opens without an error while its -wal and -shm files exist,
// and SQLite then refuses each write. Such a refusal matches
// location.ErrReadOnly too; a commit that fails so does not, as it may
// have written.
//
// # Durability and concurrency
//
// The database runs in WAL mode with synchronous=FULL, so a compare-and-set
// that returned Committed survives a power failure, and readers never block
// the writer. A compare-and-set is one transaction opened with BEGIN
// IMMEDIATE (taking the write lock up front, so it can never fail with a
// stale snapshot) holding a single conditional INSERT: the new version is
// inserted only where the key's current greatest seqno IS the expected one
// (NULL for a key with no versions); one affected row means it committed.
// Writers within one handle queue in Go rather than in SQLite's busy handler;
// writers in different processes (or handles) wait for each other up to
// busy_timeout.
//
// # Layout
//
// Versions live in one rowid table, consensus(key, seqno, data), whose
// (key, seqno) primary key is a separate index, so a large version's data
// is never in the b-tree a lookup searches. PRAGMA user_version records the
// layout; Open migrates a file of the first layout (a WITHOUT ROWID table)
// in one transaction, and refuses a layout newer than it knows with
// ErrSchemaTooNew. It makes a consensus log only of a new, empty database:
// a file that is not an SQLite database (ErrNotDatabase), and another
// program's database (ErrNotConsensus, whatever its user_version), are
// refused and left as they were: the file is looked at as immutable (no
// lock, no file created) before a connection that may write opens it,
// which could roll back a hot journal or check a leftover WAL into it.
// (Where another program's database has a -wal file, the look reads
// through it, and SQLite may create its -shm index beside it. Where the
// file has a hot journal, left by a commit that died, the look reads a
// private copy of both, rolled back, in the temporary directory; if that
// copy cannot be made or read, Open fails rather than roll back the
// journal of a file it cannot tell is a log.) A read-only
// Open cannot roll a hot journal back: it fails on such a file, whoever
// wrote it, until a writer recovers it.
//
// # Watch
//
// Consensus is a location.Watcher. Every compare-and-set that commits then
// writes one byte to the companion file <path>-notify, and Watch waits for
// file-system events on it (inotify on Linux, through fsnotify), so a
// listener in another process wakes about a millisecond after a commit
// instead of at its next poll. A commit is visible before its event is
// sent, since SQLite has no event of its own for that moment. The hint is
// not per key, and polling remains the fallback. A commit whose byte
// cannot be written (the file cannot be opened, say) still commits; the
// first such failure of a handle is logged on Options.Logger.
//
// # Errors
//
// Failures are *location.ExternalError values. Anything before COMMIT is
// sent, including SQLITE_BUSY when the write lock cannot be had and a
// context that has ended by the commit (the transaction is rolled back
// instead), is determinate; a failed COMMIT is indeterminate, a context
// that ends during it too. Reads have no effects, so
// their failures are determinate. SeqNos are stored as signed 64-bit
// integers: a compare-and-set with a SeqNo above math.MaxInt64 fails with
// location.ErrSeqNoTooLarge.
package sqlite
