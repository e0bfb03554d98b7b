package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/persist/location/postgres/pgtest"
)

// childEnv selects, when the test binary is re-executed, the role the child
// plays instead of running tests: crashChildRole or listenChildRole.
const childEnv = "SHARDFLOW_TESTS_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
	case crashChildRole:
		os.Exit(crashChild())
	case listenChildRole:
		os.Exit(listenChild())
	default:
		fmt.Fprintf(os.Stderr, "tests: unknown child role %q\n", os.Getenv(childEnv))
		os.Exit(2)
	}
	// Credentials the in-process fake S3 accepts; never reach for real ones.
	os.Setenv("AWS_ACCESS_KEY_ID", "test")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Unsetenv("AWS_PROFILE")
	code := pgtest.Main(m) // a throwaway PostgreSQL, or loud skips without one
	if cli.dir != "" {
		os.RemoveAll(cli.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// cli is the shardflow command, built once per test binary on first use.
var cli struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// shardflowBinary builds cmd/shardflow (without the race detector: it is
// the system under test here, not the test) and returns its path.
func shardflowBinary(t testing.TB) string {
	t.Helper()
	cli.once.Do(func() {
		cli.dir, cli.err = os.MkdirTemp("", "shardflow-tests-cli-")
		if cli.err != nil {
			return
		}
		cli.path = filepath.Join(cli.dir, "shardflow")
		cmd := exec.CommandContext(context.Background(), "go", "build", "-o", cli.path, "github.com/shardflow/shardflow/cmd/shardflow")
		if out, err := cmd.CombinedOutput(); err != nil {
			cli.err = fmt.Errorf("go build ./cmd/shardflow: %v\n%s", err, out)
		}
	})
	if cli.err != nil {
		t.Fatal(cli.err)
	}
	return cli.path
}
