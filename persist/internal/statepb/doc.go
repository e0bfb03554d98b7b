// Package statepb holds the generated protocol buffer types of a shard's
// durable state. Regenerate after editing state.proto with
//
//	go generate ./persist/internal/statepb
//
// which needs protoc (Debian: protobuf-compiler) and protoc-gen-go
// (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12) on PATH.
package statepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative state.proto
