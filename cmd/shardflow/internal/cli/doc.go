// Package cli is the shardflow command: its cobra command tree, global
// flags, exit statuses, logging and progress display. Main runs it in
// process, which is how both cmd/shardflow and its testscript tests start
// it.
//
// Exit statuses:
//
//	0  success (also a --follow replay stopped by SIGINT or SIGTERM)
//	1  failure: bad input data, a refused write, an unreachable store
//	2  usage: unknown command or flag, bad flag value, invalid shard name
//	3  replay froze where it could not read the shard (a blob missing,
//	   corrupt or unreadable, the state unreadable, as-of not beyond
//	   since); the error line says where
//	4  inspect --verify found missing, corrupt or unreadable blobs
package cli
