// inuse: a program with the runtime's heap profile on (it imports
// runtime/pprof and sets runtime.MemProfileRate = 1, so every allocation is
// recorded), keeping known live data at two call sites and dropping what a
// third one allocated. Prints the runtime's own in-use bytes per site, as
// `go tool pprof -inuse_space` would show them, for memtrace's to be
// checked against:
//
//	inuse big=B small=S garbage=G
//
// With --wait (memtrace -p tests): allocates first, so that memtrace
// attaches to data it never saw allocated, prints "ready PID", waits for
// SIGUSR1, prints the inuse line and "done", and exits 0 on SIGTERM.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
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

// siteInuse sums the runtime's in-use bytes of the records whose stack
// goes through fn (MemProfileRate is 1: no scaling).
func siteInuse(recs []runtime.MemProfileRecord, fn string) int64 {
	var sum int64
	for _, r := range recs {
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if strings.HasSuffix(f.Function, "."+fn) {
				sum += r.InUseBytes()
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
	fmt.Printf("inuse big=%d small=%d garbage=%d\n", siteInuse(recs, "allocBig"),
		siteInuse(recs, "allocSmall"), siteInuse(recs, "allocGarbage"))
	// What pprof itself would write, so the program is a pprof user.
	pprof.WriteHeapProfile(io.Discard)
}

func main() {
	runtime.MemProfileRate = 1
	for i := 0; i < 64; i++ {
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
	wait := len(os.Args) > 1 && os.Args[1] == "--wait"
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
