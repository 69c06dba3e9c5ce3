// inuse: a program with the runtime's heap profile on (it imports
// runtime/pprof and sets runtime.MemProfileRate = 1, so every allocation is
// recorded), keeping known live data at two call sites and dropping what a
// third one allocated. Prints the runtime's own in-use bytes per site, as
// `go tool pprof -inuse_space` would show them, for memtrace's to be
// checked against:
//
//	inuse big=B small=S garbage=G live=L heapalloc=A
//
// and the runtime's live heap after its last GC: L its /gc/heap/live:bytes
// (-1 before Go 1.21, which has no such metric), A ReadMemStats' HeapAlloc.
//
// INUSE_RATE=N in the environment sets that MemProfileRate instead of 1;
// the figures are then scaled as runtime/pprof scales heap samples.
// INUSE_BIG=N keeps N blocks of 1 MiB from allocBig instead of 64 (two
// runs that keep different amounts, for --diff).
//
// With --wait (memtrace -p tests): allocates first, so that memtrace
// attaches to data it never saw allocated, prints "ready PID", waits for
// SIGUSR1, prints the inuse line and "done", and exits 0 on SIGTERM.
// INUSE_ALLOC_AFTER=1 makes it allocate after SIGUSR1 instead (memtrace's
// own sampling sees only what is allocated while it is attached).
package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
)

var bigKept, smallKept [][]byte

//go:noinline
func allocBig(n int) []byte { return make([]byte, n) }

//go:noinline
func allocSmall(n int) []byte { return make([]byte, n) }

//go:noinline
func allocGarbage(n int) []byte { return make([]byte, n) }

// scaleHeapSample is runtime/pprof's (protomem.go), which it does not export.
func scaleHeapSample(count, size, rate int64) (int64, int64) {
	if count == 0 || size == 0 {
		return 0, 0
	}
	if rate <= 1 {
		return count, size
	}
	avgSize := float64(size) / float64(count)
	scale := 1 / (1 - math.Exp(-avgSize/float64(rate)))
	return int64(float64(count) * scale), int64(float64(size) * scale)
}

// siteInuse sums the runtime's in-use bytes of the records whose stack
// goes through fn, scaled per record as pprof scales them.
func siteInuse(recs []runtime.MemProfileRecord, fn string) int64 {
	var sum int64
	for _, r := range recs {
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if strings.HasSuffix(f.Function, "."+fn) {
				_, b := scaleHeapSample(r.InUseObjects(), r.InUseBytes(),
					int64(runtime.MemProfileRate))
				sum += b
				break
			}
			if !more {
				break
			}
		}
	}
	return sum
}

func report() {
	// Two cycles publish the last frees (the profile lags one GC behind).
	runtime.GC()
	runtime.GC()
	// No GC runs after this: the heap's goal is twice what is kept.
	live := liveHeap()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		n, ok = runtime.MemProfile(recs, true)
		if ok {
			recs = recs[:n]
			break
		}
	}
	fmt.Printf("inuse big=%d small=%d garbage=%d live=%d heapalloc=%d\n",
		siteInuse(recs, "allocBig"), siteInuse(recs, "allocSmall"),
		siteInuse(recs, "allocGarbage"), live, ms.HeapAlloc)
	// What pprof itself would write, so the program is a pprof user.
	pprof.WriteHeapProfile(io.Discard)
}

func allocate(nbig int) {
	for i := 0; i < nbig; i++ {
		bigKept = append(bigKept, allocBig(1<<20))
	}
	for i := 0; i < 256; i++ {
		smallKept = append(smallKept, allocSmall(64<<10))
	}
	var garbage [][]byte
	for i := 0; i < 32; i++ {
		garbage = append(garbage, allocGarbage(1<<20))
	}
	garbage = nil
	runtime.GC()
	runtime.GC()
}

func main() {
	runtime.MemProfileRate = 1
	if r, err := strconv.Atoi(os.Getenv("INUSE_RATE")); err == nil {
		runtime.MemProfileRate = r
	}
	wait := len(os.Args) > 1 && os.Args[1] == "--wait"
	after := os.Getenv("INUSE_ALLOC_AFTER") == "1"
	nbig := 64
	if n, err := strconv.Atoi(os.Getenv("INUSE_BIG")); err == nil && n >= 0 {
		nbig = n
	}
	if !after {
		allocate(nbig)
	}
	var sigs chan os.Signal
	if wait {
		sigs = make(chan os.Signal, 2)
		signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
		fmt.Printf("ready %d\n", os.Getpid())
		for s := range sigs {
			if s == syscall.SIGUSR1 {
				break
			}
		}
	}
	if after {
		allocate(nbig)
	}
	report()
	fmt.Println("done")
	os.Stdout.Sync()
	if wait {
		for s := range sigs {
			if s == syscall.SIGTERM {
				break
			}
		}
	}
	runtime.KeepAlive(bigKept)
	runtime.KeepAlive(smallKept)
}
