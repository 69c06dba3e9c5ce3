//go:build !go1.21

package main

// liveHeap: before Go 1.21 runtime/metrics has no /gc/heap/live:bytes.
func liveHeap() int64 { return -1 }
