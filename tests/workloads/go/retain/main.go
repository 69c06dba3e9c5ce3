// retain: allocates a few hundred MiB in blocks, drops all but a few and
// runs the garbage collector, so that the freed spans stay with the runtime
// (run it as a GOGC=off GOMEMLIMIT=... service would run, so the background
// scavenger leaves them alone). Prints runtime.MemStats for memtrace's
// figures to be checked against:
//
//	memstats heap_idle=I heap_released=R heap_inuse=U sys=S
package main

import (
	"fmt"
	"os"
	"runtime"
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
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf("memstats heap_idle=%d heap_released=%d heap_inuse=%d sys=%d\n",
		m.HeapIdle, m.HeapReleased, m.HeapInuse, m.Sys)
	fmt.Println("done")
	os.Stdout.Sync()
	runtime.KeepAlive(kept)
}
