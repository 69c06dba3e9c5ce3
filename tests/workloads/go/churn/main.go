// churn: keeps 8 MiB of 1 KiB objects from main.allocKept, then for two
// seconds allocates 1 KiB objects from main.allocChurn and drops them (a
// ring of 64 holds the newest), so that the garbage collector runs many
// times and the churned objects' slots are taken again and again by newer
// ones of the same size. Its live heap at the end: the kept objects, and
// 64 KiB of churn. Prints
//
//	kept=BYTES churned=COUNT
package main

import (
	"fmt"
	"runtime"
	"time"
)

var kept [][]byte
var ring [64][]byte

//go:noinline
func allocKept() []byte { return make([]byte, 1024) }

//go:noinline
func allocChurn() []byte { return make([]byte, 1024) }

func main() {
	for i := 0; i < 8192; i++ {
		kept = append(kept, allocKept())
	}
	end := time.Now().Add(2 * time.Second)
	n := 0
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			ring[n%64] = allocChurn()
			n++
		}
	}
	runtime.GC()
	// Long enough for a few of memtrace's checks after the last GC.
	time.Sleep(300 * time.Millisecond)
	fmt.Printf("kept=%d churned=%d\n", len(kept)*1024, n)
	runtime.KeepAlive(kept)
	runtime.KeepAlive(ring)
}
