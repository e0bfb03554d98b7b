package main

import (
	"fmt"
	"os"
	"path/filepath"
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

// readmeScript turns the README's "drive the CLI yourself" block into a
// testscript: every ./shardflow line must exit 0; a printf piped into a
// command becomes its standard input; --follow runs in the background until
// it has printed the end of the history, and is then stopped with SIGINT.
func readmeScript(readme string) (string, error) {
	_, after, ok := strings.Cut(readme, "drive the CLI yourself:")
	if !ok {
		return "", fmt.Errorf(`README: no "drive the CLI yourself:" paragraph`)
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	if ok {
		block, _, ok = strings.Cut(block, "```")
	}
	if !ok {
		return "", fmt.Errorf("README: no sh block after the quick start")
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
