package cli

import (
	"context"
	"errors"
)

func replayShard(ctx context.Context, g *globals, st *store, cfg replayConfig) error {
	return failure(errors.New("replay: not implemented yet"))
}
