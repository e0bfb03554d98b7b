package cli_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/shardflow/shardflow/cmd/shardflow/internal/cli"
)

// Main runs the command in process: here a write, then a replay as CSV.
func ExampleMain() {
	dir, err := os.MkdirTemp("", "shardflow-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	input := `{"key": "apple", "val": 3, "time": 0}
{"key": "pear", "val": 5, "time": 1}
`
	env := cli.Env{Stdin: strings.NewReader(input), Stdout: os.Stdout, Stderr: os.Stdout}
	code := cli.Main(context.Background(), []string{"--location", dir, "write", "--shard", "fruit"}, env)
	fmt.Println("status", code)
	code = cli.Main(context.Background(), []string{"--location", dir, "replay", "--shard", "fruit", "--output", "csv"}, env)
	fmt.Println("status", code)
	code = cli.Main(context.Background(), []string{"--location", dir, "write", "--shard", "no/such"}, env)
	fmt.Println("status", code)
	// Output:
	// wrote 2 updates to shard fruit: upper [0] -> [2]
	// status 0
	// key,val,time,diff
	// """apple""",3,0,1
	// """pear""",5,1,1
	// status 0
	// shardflow: --shard: invalid shard name "no/such": want 1 to 128 characters of A-Z a-z 0-9 _ . - (not . or ..)
	// Run 'shardflow write --help' for usage.
	// status 2
}
