package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// EnvURL names the environment variable that points the tests at an
// existing server instead of a throwaway cluster.
const EnvURL = "SHARDFLOW_POSTGRES_URL"

// ErrUnavailable is the cause of a Start that found no way to run
// PostgreSQL here (as opposed to a failure of one that should have worked).
var ErrUnavailable = errors.New("pgtest: PostgreSQL unavailable")

// Cluster is a PostgreSQL server for tests.
type Cluster struct {
	// URL connects to the server's "postgres" database as a user that may
	// create databases.
	URL string
	// Set for a throwaway cluster only.
	dir    string // temporary directory: data/, the socket, the log
	pgCtl  string
	runAs  string // user to run binaries as ("" = ourselves)
	closed bool
}

// Start returns the server named by SHARDFLOW_POSTGRES_URL, or starts a
// throwaway cluster. An error wrapping ErrUnavailable means PostgreSQL
// cannot run here at all.
func Start(ctx context.Context) (*Cluster, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return &Cluster{URL: u}, nil
	}
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{pgCtl: filepath.Join(bin, "pg_ctl")}
	var owner *user.User
	if os.Geteuid() == 0 {
		owner, err = user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("%w: running as root and there is no postgres user to run the server as: %v", ErrUnavailable, err)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, fmt.Errorf("%w: running as root and runuser is missing: %v", ErrUnavailable, err)
		}
		c.runAs = "postgres"
	}
	c.dir, err = os.MkdirTemp("", "shardflow-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if owner != nil {
		uid, _ := strconv.Atoi(owner.Uid)
		gid, _ := strconv.Atoi(owner.Gid)
		if err := os.Chown(c.dir, uid, gid); err != nil {
			c.remove()
			return nil, fmt.Errorf("pgtest: hand %s to postgres: %w", c.dir, err)
		}
	}
	port, err := freePort()
	if err != nil {
		c.remove()
		return nil, err
	}
	data := filepath.Join(c.dir, "data")
	if err := c.run(ctx, filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"); err != nil {
		c.remove()
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", port, c.dir)
	if err := c.run(ctx, c.pgCtl, "-D", data, "-w", "-t", "60", "-l", filepath.Join(c.dir, "log"), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.remove()
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, log)
	}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return c, nil
}

// Stop stops a throwaway cluster and removes its directory; for a server
// from SHARDFLOW_POSTGRES_URL it does nothing.
func (c *Cluster) Stop() error {
	if c.dir == "" || c.closed {
		return nil
	}
	c.closed = true
	err := c.run(context.Background(), c.pgCtl, "-D", filepath.Join(c.dir, "data"), "-w", "-m", "immediate", "stop")
	c.remove()
	return err
}

func (c *Cluster) remove() { os.RemoveAll(c.dir) }

// run runs a PostgreSQL binary, as c.runAs if set.
func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	if c.runAs != "" {
		args = append([]string{"-u", c.runAs, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = os.TempDir() // the server user must be able to enter it
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: %s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// binGlob is where installed PostgreSQL versions are looked for; tests
// point it elsewhere.
var binGlob = "/usr/lib/postgresql/*/bin"

// findBinaries returns the directory holding initdb and pg_ctl.
func findBinaries() (string, error) {
	dirs, _ := filepath.Glob(binGlob)
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && isExec(filepath.Join(filepath.Dir(p), "pg_ctl")) {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("%w: no initdb and pg_ctl under /usr/lib/postgresql/*/bin or on PATH, and %s is not set", ErrUnavailable, EnvURL)
}

func versionOf(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
