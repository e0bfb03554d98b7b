package tests

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/shardflow/shardflow"

// allowed lists, for each top-level package, the top-level packages of this
// module it may import (ARCHITECTURE.md, "Packages and their direction of
// dependency"). Subpackages count as their top-level package; dataflowtest
// and persisttest are harnesses and may import what their package may.
// internal holds test support (testseed) that only tests import, and that
// imports nothing of the module.
var allowed = map[string][]string{
	"internal":    {},
	"frontier":    {},
	"lease":       {"frontier"},
	"dataflow":    {"frontier"},
	"operators":   {"dataflow", "frontier"},
	"persist":     {"frontier", "lease"},
	"shardsource": {"dataflow", "lease", "persist", "frontier"},
	"cmd":         {"shardsource", "operators", "dataflow", "persist", "lease", "frontier", "tests"},
	"tests":       {"shardsource", "operators", "dataflow", "persist", "lease", "frontier"},
}

func top(importPath string) string {
	rest := strings.TrimPrefix(importPath, module+"/")
	top, _, _ := strings.Cut(rest, "/")
	return top
}

// TestDependencyDirection fails if any package imports one of this module's
// packages against the arrows of the architecture.
func TestDependencyDirection(t *testing.T) {
	readSources(t)
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		from := top(fields[0])
		rules, known := allowed[from]
		if !known {
			t.Errorf("package %s is in no row of the dependency table", fields[0])
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := top(imp)
			checked++
			if to == from {
				continue
			}
			ok := false
			for _, r := range rules {
				ok = ok || r == to
			}
			if !ok {
				t.Errorf("%s imports %s: %s may import only %v", fields[0], imp, from, rules)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no imports of this module were seen: the check checked nothing")
	}
}

// readSources reads every Go file of the module. go test caches a test's
// result against the files it opens, and go list runs in another process,
// where it cannot see them: without this, a package added or an import
// changed would replay the last cached pass.
func readSources(t *testing.T) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(p, ".go"):
			return nil
		}
		_, err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
