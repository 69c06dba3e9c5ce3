// retain: allocates a few hundred MiB in blocks, drops all but a few and
// runs the garbage collector, so that the freed spans stay with the runtime
// (run it as a GOGC=off GOMEMLIMIT=... service would run, so the background
// scavenger leaves them alone). Prints runtime.MemStats for memtrace's
// figures to be checked against:
//
//	memstats heap_idle=I heap_released=R heap_inuse=U sys=S
//
// With --wait (memtrace -p tests): does the same work first, so that memtrace
// attaches to a grown heap, prints "ready PID", waits for SIGUSR1, prints the
// memstats line and "done", and exits 0 on SIGTERM.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// Block is a growing buffer; Append is the allocation site tests look for.
type Block struct{ data []byte }

//go:noinline
func (b *Block) Append(n int) {
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(i)
	}
	b.data = append(b.data, buf...)
}

var kept []*Block

func main() {
	const blocks = 300
	all := make([]*Block, 0, blocks)
	for i := 0; i < blocks; i++ {
		b := &Block{}
		b.Append(1 << 20)
		all = append(all, b)
	}
	// A copy: all[:10] would keep the whole backing array, and every Block, alive.
	kept = append([]*Block(nil), all[:10]...)
	all = nil
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
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf("memstats heap_idle=%d heap_released=%d heap_inuse=%d sys=%d\n",
		m.HeapIdle, m.HeapReleased, m.HeapInuse, m.Sys)
	fmt.Println("done")
	os.Stdout.Sync()
	if wait {
		for s := range sigs {
			if s == syscall.SIGTERM {
				break
			}
		}
	}
	runtime.KeepAlive(kept)
}
