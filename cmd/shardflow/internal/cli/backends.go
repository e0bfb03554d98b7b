package cli

// The storage backends the --blob and --consensus URLs can name: blobs in
// mem://, file:// and s3://; consensus in mem://, sqlite:// and postgres://.
import (
	_ "github.com/shardflow/shardflow/persist/location/file"
	_ "github.com/shardflow/shardflow/persist/location/mem"
	_ "github.com/shardflow/shardflow/persist/location/postgres"
	_ "github.com/shardflow/shardflow/persist/location/s3"
	_ "github.com/shardflow/shardflow/persist/location/sqlite"
)
