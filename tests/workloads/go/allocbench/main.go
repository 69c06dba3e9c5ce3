// allocbench: make bench's Go workload. N small heap allocations, each from
// a call chain 10 frames deep, most dropped at once (the garbage collector
// runs often) and one in 64 kept until the next round. Prints the wall
// time per allocation:
//
//	ns_per_alloc F
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

var kept [][]byte

//go:noinline
func leaf(i int) []byte { return make([]byte, 64) }

//go:noinline
func step(depth, i int) []byte {
	if depth == 0 {
		return leaf(i)
	}
	return step(depth-1, i)
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		b := step(8, i)
		if i%64 == 0 {
			kept = append(kept, b)
			if len(kept) > 4096 {
				kept = kept[:0]
			}
		}
	}
	el := time.Since(start)
	fmt.Printf("ns_per_alloc %.1f\n", float64(el.Nanoseconds())/float64(n))
}
