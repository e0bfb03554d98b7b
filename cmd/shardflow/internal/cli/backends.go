package cli

// The storage backends the --blob and --consensus URLs can name.
import (
	_ "github.com/shardflow/shardflow/persist/location/mem"
	_ "github.com/shardflow/shardflow/persist/location/sqlite"
)
