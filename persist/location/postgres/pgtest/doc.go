// Package pgtest gives tests a PostgreSQL server and a fresh database per
// test.
//
// If the environment variable SHARDFLOW_POSTGRES_URL is set, it names a
// server the tests may create and drop databases on. Otherwise Main starts
// a throwaway cluster from the installed binaries (the newest
// /usr/lib/postgresql/*/bin, or initdb and pg_ctl on PATH): initdb into a
// temporary directory, pg_ctl start on a free loopback port with the socket
// in that directory, and, at the end, pg_ctl stop and removal of the
// directory. PostgreSQL refuses to run as root, so under euid 0 the cluster
// runs as the "postgres" user (through runuser) in a directory handed to
// that user. The throwaway cluster runs with fsync=off: it tests semantics,
// not the durability of the machine.
//
// When no server can be had (no binaries, no postgres user), Main logs the
// reason loudly and every NewDatabase call skips its test with that
// reason, so a missing PostgreSQL never passes silently as green-but-empty:
// the skips show in -v output and the log line in any output.
//
// MainLazy starts the server at the first NewDatabase instead, for a test
// binary that seldom needs it (a benchmark suite).
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.NewDatabase(t) // dropped when t ends
//		...
//	}
package pgtest
