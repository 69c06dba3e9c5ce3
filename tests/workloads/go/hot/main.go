// hot: most of its allocation goes through main.hotPath; main.coldPath
// allocates a tenth as much. Prints "done" and exits.
package main

import "fmt"

var sink [][]byte

//go:noinline
func hotPath(i int) []byte { return make([]byte, 4096+i%7) }

//go:noinline
func coldPath(i int) []byte { return make([]byte, 4096+i%5) }

func main() {
	for i := 0; i < 20000; i++ {
		b := hotPath(i)
		if i%10 == 0 {
			b = coldPath(i)
		}
		sink = append(sink, b)
		if len(sink) > 64 {
			sink = sink[:0]
		}
	}
	fmt.Println("done")
}
