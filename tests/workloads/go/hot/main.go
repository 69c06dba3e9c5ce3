// hot: most of its allocation goes through main.hotPath; main.coldPath
// allocates a tenth as much. main.newPair and main.newBlob allocate small
// objects with new (16 bytes with pointers, 40 without), 3000 each: from
// Go 1.27 compiled code calls the allocator's size-specialized functions for
// them directly, not runtime.newobject. Prints "done" and exits.
package main

import "fmt"

type pair struct{ a, b *int }
type blob struct{ x [40]byte }

var sink [][]byte
var pairs []*pair
var blobs []*blob

//go:noinline
func newPair() *pair { return &pair{} }

//go:noinline
func newBlob() *blob { return new(blob) }

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
	pairs = make([]*pair, 0, 3000)
	blobs = make([]*blob, 0, 3000)
	for i := 0; i < 3000; i++ {
		pairs = append(pairs, newPair())
		blobs = append(blobs, newBlob())
	}
	fmt.Println("done")
}
