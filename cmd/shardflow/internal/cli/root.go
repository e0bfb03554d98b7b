package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Env is what the command reads and writes: the process's standard streams,
// or a test's.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// globals holds the flags every command shares.
type globals struct {
	env       Env
	location  string
	blob      string
	consensus string
	logLevel  string
	log       *slog.Logger
}

const defaultLocation = "./shardflow-data"

// Main runs the shardflow command with args (without the program name) and
// returns its exit status. ctx is cancelled on SIGINT or SIGTERM.
func Main(ctx context.Context, args []string, env Env) int {
	root := newRoot(env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := statusOf(err)
	if err != nil {
		var ee *exitError
		// A closed output (shardflow replay | head) is no news to whoever
		// closed it: status 1, and nothing on stderr.
		if (!errors.As(err, &ee) || !ee.quiet) && !errors.Is(err, syscall.EPIPE) {
			fmt.Fprintf(env.Stderr, "shardflow: %v\n", err)
		}
		if code == ExitUsage {
			path := "shardflow"
			if cmd, _, ferr := root.Find(args); ferr == nil && cmd != nil {
				path = cmd.CommandPath()
			}
			fmt.Fprintf(env.Stderr, "Run '%s --help' for usage.\n", path)
		}
	}
	return code
}

func newRoot(env Env) *cobra.Command {
	g := &globals{env: env}
	root := &cobra.Command{
		Use:   "shardflow",
		Short: "Write, replay and inspect durable shards of updates",
		Long: `shardflow writes batches of updates to a durable shard, replays a shard
through a dataflow, and inspects and garbage-collects its storage.

A shard is an append-only collection of updates (key, val, time, diff): key
and val are any JSON, time is an unsigned 64-bit integer, diff a signed
count (+1 inserts, -1 retracts). Its upper is the frontier below which every
time is complete; its since, the frontier below which history may have been
compacted.

By default shards live under ./shardflow-data: blobs (one file per part)
under ./shardflow-data/blob and the consensus log in
./shardflow-data/consensus.db, which also keeps small batches inline. Use
--location to pick another directory, or --blob and --consensus to name
any storage backend by URL.

Exit status: 0 success, 1 failure, 2 usage error, 3 replay froze where it
could not read the shard, 4 inspect --verify found damage.`,
		Example: `  # Write a sample shard and replay it.
  shardflow demo

  # Append updates from a JSONL file, then replay them.
  shardflow write --shard fruit --input updates.jsonl
  shardflow replay --shard fruit

  # Keep printing new updates until Ctrl-C.
  shardflow replay --shard fruit --follow`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup(cmd)
		},
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(flagError)
	pf := root.PersistentFlags()
	pf.StringVar(&g.location, "location", defaultLocation, "directory holding the default storage (file blobs and an embedded consensus log)")
	pf.StringVar(&g.blob, "blob", "", "blob store URL: file:///abs/dir, file:rel/dir, s3://BUCKET[/DIR]?region=R, mem:// (with a mem:// consensus only); needs --consensus")
	pf.StringVar(&g.consensus, "consensus", "", "consensus URL: sqlite:///abs/file.db, sqlite:rel.db, postgres://USER@HOST/DB, mem://; needs --blob")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")

	root.AddCommand(
		newWriteCmd(g),
		newReplayCmd(g),
		newInspectCmd(g),
		newShardsCmd(g),
		newGCCmd(g),
		newDemoCmd(g),
		newBenchCmd(g),
		newBenchListenerCmd(g),
	)
	root.SetHelpCommand(newHelpCmd())
	return root
}

// newHelpCmd is cobra's help command, but for a topic that names no
// command, which is a usage error (status 2), not help (status 0).
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "help shows the help of the command it names, or of shardflow.",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, _, err := c.Root().Find(args)
			if cmd == nil || err != nil {
				return usageErrorf("help: no command %q", strings.Join(args, " "))
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// flagError turns pflag's parse errors into usage errors that name the
// flag and what it wants, without Go's parser internals: "--workers: want
// an integer, got "x"" rather than "invalid argument "x" for "--workers"
// flag: strconv.ParseInt: parsing "x": invalid syntax".
func flagError(cmd *cobra.Command, err error) error {
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) {
		want := map[string]string{
			"int": "an integer", "int64": "an integer", "bool": "true or false",
			"duration": "a duration such as 90s, 15m or 1h",
		}[iv.GetFlag().Value.Type()]
		if want != "" {
			return usageErrorf("--%s: want %s, got %q", iv.GetFlag().Name, want, iv.GetValue())
		}
	}
	if cmd.HasParent() {
		return usageErrorf("%s: %v", cmd.Name(), err)
	}
	return usageErrorf("%v", err)
}

// emptyOK annotates a string flag whose empty value means something, such
// as "none", rather than a mistake.
const emptyOK = "shardflow_empty_ok"

// setup checks the global flags and starts the logger.
func (g *globals) setup(cmd *cobra.Command) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return usageErrorf("--log-level: unknown level %q (want debug, info, warn or error)", g.logLevel)
	}
	g.log = slog.New(slog.NewTextHandler(g.env.Stderr, &slog.HandlerOptions{Level: level}))
	if (g.blob == "") != (g.consensus == "") {
		return usageErrorf("--blob and --consensus go together: give both, or neither to use --location")
	}
	if g.blob != "" && cmd.Flags().Changed("location") {
		return usageErrorf("--location cannot be combined with --blob and --consensus")
	}
	if strings.TrimSpace(g.location) == "" {
		return usageErrorf("--location: empty directory name")
	}
	// An empty value, as from --since "$UNSET", would otherwise mean the
	// flag's default: a shell variable's typo silently changing the command.
	var empty error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if empty == nil && f.Value.Type() == "string" && f.Value.String() == "" && f.Annotations[emptyOK] == nil {
			if _, required := f.Annotations[cobra.BashCompOneRequiredFlag]; required {
				empty = usageErrorf("--%s: empty value", f.Name)
			} else {
				empty = usageErrorf("--%s: empty value (leave the flag out for its default)", f.Name)
			}
		}
	})
	return empty
}

// commandLine spells a shardflow command to run next, with the storage
// flags this one was given, so that it reaches the same shards. A URL's
// password is redacted: whoever runs it puts it back.
func (g *globals) commandLine(args ...string) string {
	words := []string{"shardflow"}
	switch {
	case g.blob != "" || g.consensus != "":
		words = append(words, "--blob", redactURL(g.blob), "--consensus", redactURL(g.consensus))
	case g.location != defaultLocation:
		words = append(words, "--location", g.location)
	}
	words = append(words, args...)
	for i, w := range words {
		words[i] = shellQuote(w)
	}
	return strings.Join(words, " ")
}

// shellQuote quotes w for a POSIX shell, unless it needs no quoting.
func shellQuote(w string) string {
	if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,") == "" {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
