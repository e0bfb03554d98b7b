package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestREADMEQuickStart runs the commands of the README's quick start, as a
// first-time user would paste them, and fails if any of them fails: the
// README must not show a command that does not work.
func TestREADMEQuickStart(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := readmeScript(string(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("script from the README:\n%s", script)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), []byte(script), 0o666); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{Dir: dir, RequireExplicitExec: true, Setup: quickExit, Cmds: map[string]func(*testscript.TestScript, bool, []string){
		"waitfor": cmdWaitfor,
	}})
}

// readmeScript turns the README's sh block of ./shardflow commands into a
// testscript: every ./shardflow line must exit 0; a printf piped into a
// command becomes its standard input; --follow runs in the background until
// it has printed the end of the history, and is then stopped with SIGINT.
func readmeScript(readme string) (string, error) {
	var block string
	for _, b := range strings.Split(readme, "```sh\n")[1:] {
		b, _, _ = strings.Cut(b, "```")
		if strings.Contains(b, "./shardflow write") {
			block = b
			break
		}
	}
	if block == "" {
		return "", fmt.Errorf("README: no sh block with ./shardflow write")
	}
	var script, files strings.Builder
	script.WriteString("[!exec:sh] skip 'needs sh to redirect the follower''s output'\n")
	var stdin []string
	cmds := 0
	for _, line := range strings.Split(block, "\n") {
		words, err := shellWords(line)
		if err != nil {
			return "", fmt.Errorf("README line %q: %v", line, err)
		}
		switch {
		case len(words) == 0 || words[0] == "go":
		case words[0] == "printf" && len(words) > 2 && words[len(words)-1] == "|":
			stdin = words[2 : len(words)-1]
		case words[0] == "./shardflow":
			cmds++
			args := strings.Join(words[1:], " ")
			if stdin != nil {
				name := fmt.Sprintf("stdin%d", cmds)
				fmt.Fprintf(&files, "-- %s --\n%s\n", name, strings.Join(stdin, "\n"))
				fmt.Fprintf(&script, "stdin %s\n", name)
				stdin = nil
			}
			if strings.Contains(args, "--follow") {
				fmt.Fprintf(&script, "exec sh -c 'exec shardflow %s > follow.out' &follow&\n", args)
				script.WriteString("waitfor follow.out '^\\{\"frontier\":\\[\\d+\\]\\}$'\n")
				script.WriteString("kill -INT follow\nwait follow\n")
				continue
			}
			fmt.Fprintf(&script, "exec shardflow %s\n", args)
		default:
			return "", fmt.Errorf("README line %q: not a command this test knows", line)
		}
	}
	if cmds == 0 {
		return "", fmt.Errorf("README: no ./shardflow commands in the quick start")
	}
	return script.String() + files.String(), nil
}

// shellWords splits a line as sh would for the README's simple commands:
// words separated by spaces, single quotes, and a # comment.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '"' || c == '\\' || c == '$' || c == '`':
			return nil, fmt.Errorf("unsupported shell character %q", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestREADMEFuzzCommands: each "go test ... -fuzz X ./pkg" the README shows
// names exactly one fuzz test of the package, or go test refuses to fuzz.
func TestREADMEFuzzCommands(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := regexp.MustCompile(`go test [^`+"`"+`]*-fuzz '?([^' ]+)'? (\./[^`+"`"+` ]+)`).FindAllStringSubmatch(string(b), -1)
	if len(cmds) == 0 {
		t.Skip("the README shows no fuzz command")
	}
	decl := regexp.MustCompile(`(?m)^func (Fuzz\w*)\(`)
	for _, c := range cmds {
		re, err := regexp.Compile(c[1])
		if err != nil {
			t.Fatalf("%s: -fuzz %q: %v", c[0], c[1], err)
		}
		files, err := filepath.Glob(filepath.Join("../..", c[2], "*_test.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no test files in %s", c[0], c[2])
		}
		var matched []string
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
				if re.MatchString(m[1]) {
					matched = append(matched, m[1])
				}
			}
		}
		if len(matched) != 1 {
			t.Errorf("%s: -fuzz %s matches %d fuzz tests %v, want exactly 1", c[0], c[1], len(matched), matched)
		}
	}
}
