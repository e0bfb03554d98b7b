package persist

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/shardflow/shardflow/frontier"
)

// Frontier is an antichain of persist's totally ordered Time.
type Frontier = frontier.Antichain[frontier.Time]

// ShardID names a shard: 1 to 128 characters of [A-Za-z0-9_.-], not "." or
// "..". It is the shard's consensus key and the prefix of its blobs.
type ShardID string

// Validate reports whether id is a valid shard id.
func (id ShardID) Validate() error {
	if len(id) == 0 || len(id) > 128 || id == "." || id == ".." {
		return fmt.Errorf("%w: %q", ErrInvalidShardID, string(id))
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %q", ErrInvalidShardID, string(id))
		}
	}
	return nil
}

// consensusKey is the consensus key of the shard's state log.
func (id ShardID) consensusKey() string { return string(id) }

// blobPrefix is the prefix of every blob of the shard.
func (id ShardID) blobPrefix() string { return string(id) + "/" }

// partKey returns a fresh, never reused blob key for a part.
func (id ShardID) partKey(writer string) string {
	return id.blobPrefix() + "p/" + writer + "-" + randomID() + ".parquet"
}

// isPartKey reports whether key is named as partKey names parts, or as the
// temporary file a blob writer makes beside one: "<shard>/p/" then one
// path segment ending in ".parquet" or ".tmp".
func (id ShardID) isPartKey(key string) bool {
	name, ok := strings.CutPrefix(key, id.blobPrefix()+"p/")
	return ok && name != "" && !strings.Contains(name, "/") &&
		(strings.HasSuffix(name, ".parquet") || strings.HasSuffix(name, ".tmp"))
}

func randomID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("persist: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
