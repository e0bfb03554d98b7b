//go:build !unix

package bench

func processUsage() (usage, bool) { return usage{}, false }
