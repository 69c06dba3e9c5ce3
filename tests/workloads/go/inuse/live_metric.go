//go:build go1.21

package main

import "runtime/metrics"

// liveHeap is the runtime's /gc/heap/live:bytes (Go 1.21+): the heap the
// last GC marked live.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
