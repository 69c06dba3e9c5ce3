// span: objects of every kind the Go allocator treats apart, half kept and
// half dropped before a garbage collection, for memtrace's span reader to
// say which are still allocated. Kinds (rounded sizes as the runtime's
// size classes give them, Go 1.19-1.23):
//
//	tiny        8 B, no pointers: the tiny allocator packs two in a 16-byte block
//	small       112 B, no pointers (size class 112)
//	scan        48 B with a pointer (size class 48)
//	header      640 B of pointers: class 640, or from Go 1.22 on 640 + an
//	            8-byte malloc header = class 704, the object 8 bytes in
//	large       40000 B, no pointers: a 5-page span of its own (40960)
//	largescan   5000 pointers (40000 B): the same, scanned
//
// Allocates, drops half (the tiny objects last allocated before the
// collection are kept: the collector keeps the block being filled), runs
// runtime.GC(), allocates a few more kept ones,
// then prints, without allocating (an allocation could take a dropped slot):
//
//	kept ADDR:SIZE ...       (hex address, rounded size)
//	dropped ADDR:SIZE ...
//	ready PID
//
// and waits; SIGTERM exits 0.
//
// SPAN_UNSWEPT=1: the collection is one the allocation of garbage starts,
// not runtime.GC() (which sweeps every span before it returns): the lines
// are printed first, then the program allocates until that collection
// ends and stops itself (SIGSTOP) at once, its spans not swept yet (one P:
// the background sweeper has not run). Then the marks of that collection
// say what is kept: Go 1.26's Green Tea keeps a small object span's in
// the span itself until its sweep. SIGCONT, then SIGTERM exits 0.
package main

import (
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

type scanObj struct {
	next *scanObj
	pad  [5]uint64
}

type headerObj struct{ ptrs [80]*int }

type obj struct {
	addr, size uintptr
}

// What is kept, by type: storing into an interface would allocate too.
var (
	keepBytes  [][]byte
	keepScan   []*scanObj
	keepHeader []*headerObj
	keepPtrs   [][]*int
	headerSize uintptr = 640
)

// Go 1.22 and later put an 8-byte header before a small object with
// pointers larger than 512 bytes: 648 bytes take size class 704.
func init() {
	v := strings.TrimPrefix(runtime.Version(), "go1.")
	minor, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if err == nil && minor >= 22 {
		headerSize = 704
	}
}

// allocate makes n objects of each kind (4n tiny ones), recording them in
// out and keeping them when kept.
func allocate(n int, kept bool, out []obj) []obj {
	// Tiny objects in a batch of their own: a block then holds kept or
	// dropped ones only (but the batch's first and last).
	for i := 0; i < 4*n; i++ {
		b := make([]byte, 8)
		out = append(out, obj{uintptr(unsafe.Pointer(&b[0])), 16})
		if kept {
			keepBytes = append(keepBytes, b)
		}
	}
	for i := 0; i < n; i++ {
		b := make([]byte, 112)
		s := new(scanObj)
		h := new(headerObj)
		out = append(out, obj{uintptr(unsafe.Pointer(&b[0])), 112},
			obj{uintptr(unsafe.Pointer(s)), 48}, obj{uintptr(unsafe.Pointer(h)), headerSize})
		if kept {
			keepBytes = append(keepBytes, b)
			keepScan = append(keepScan, s)
			keepHeader = append(keepHeader, h)
		}
	}
	for i := 0; i < n/16+1; i++ {
		b := make([]byte, 40000)
		p := make([]*int, 5000)
		out = append(out, obj{uintptr(unsafe.Pointer(&b[0])), 40960},
			obj{uintptr(unsafe.Pointer(&p[0])), 40960})
		if kept {
			keepBytes = append(keepBytes, b)
			keepPtrs = append(keepPtrs, p)
		}
	}
	return out
}

func appendObjs(buf []byte, label string, objs []obj) []byte {
	buf = append(buf, label...)
	for _, o := range objs {
		buf = append(buf, ' ')
		buf = strconv.AppendUint(buf, uint64(o.addr), 16)
		buf = append(buf, ':')
		buf = strconv.AppendUint(buf, uint64(o.size), 10)
	}
	return append(buf, '\n')
}

func main() {
	// One P, so one tiny block being filled (each P's mcache has its own).
	runtime.GOMAXPROCS(1)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	const n = 64
	// Everything the end needs, allocated now.
	kept := make([]obj, 0, 16*n)
	dropped := make([]obj, 0, 16*n)
	buf := make([]byte, 0, 64<<10)
	keepBytes = make([][]byte, 0, 8*n)
	keepScan = make([]*scanObj, 0, 2*n)
	keepHeader = make([]*headerObj, 0, 2*n)
	keepPtrs = make([][]*int, 0, n)

	unswept := os.Getenv("SPAN_UNSWEPT") == "1"
	if unswept {
		// Sweeping starts with large objects' spans (size class 0), ten
		// before the sweeper yields: dead ones, first in line, to take them.
		// Allocated first, so that the collections they cause come before
		// the objects below exist.
		bigGarbage = make([][]byte, 256)
		for i := range bigGarbage {
			bigGarbage[i] = make([]byte, 40000)
		}
	}
	kept = allocate(n, true, kept)
	dropped = allocate(n, false, dropped)
	// The garbage collector keeps the block the tiny allocator is filling
	// (gcMarkTinyAllocs): make it a kept one.
	for i := 0; i < 2; i++ {
		b := make([]byte, 8)
		kept = append(kept, obj{uintptr(unsafe.Pointer(&b[0])), 16})
		keepBytes = append(keepBytes, b)
	}
	if !unswept {
		runtime.GC()
		kept = allocate(4, true, kept)
	}

	buf = appendObjs(buf, "kept", kept)
	buf = appendObjs(buf, "dropped", dropped)
	buf = append(buf, "ready "...)
	buf = strconv.AppendInt(buf, int64(os.Getpid()), 10)
	buf = append(buf, '\n')
	os.Stdout.Write(buf)
	if unswept {
		collectAndStop()
	}
	<-sigs
	runtime.KeepAlive(keepBytes)
	runtime.KeepAlive(keepScan)
	runtime.KeepAlive(keepHeader)
	runtime.KeepAlive(keepPtrs)
}

var (
	garbage    []byte
	bigGarbage [][]byte
	fillScan   *scanObj
	fillHeader *headerObj
)

// collectAndStop allocates garbage until a collection has ended (its mark
// termination counts it in /gc/cycles/total), then stops the process before
// anything sweeps the spans it marked.
func collectAndStop() {
	cycles := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	bigGarbage = nil
	// A collection sweeps at once the spans the allocator is filling (each
	// size class's in the P's mcache): fill others, so that the objects
	// recorded are in spans it only marks. Garbage all: a collection that
	// ends meanwhile may put some in the dropped objects' slots.
	for i := 0; i < 1200; i++ {
		garbage = make([]byte, 8)
	}
	for i := 0; i < 200; i++ {
		garbage = make([]byte, 112)
		fillScan = new(scanObj)
	}
	for i := 0; i < 24; i++ {
		fillHeader = new(headerObj)
	}
	garbage, fillScan, fillHeader = nil, nil, nil
	// The collection waited for ends after the filling (one that ended
	// during it had the filling sweep spans).
	metrics.Read(cycles)
	start := cycles[0].Value.Uint64()
	pid := uintptr(os.Getpid())
	for {
		garbage = make([]byte, 4096)
		metrics.Read(cycles)
		if cycles[0].Value.Uint64() != start {
			break
		}
	}
	// Raw: syscall.Kill would let go of the P for the call, and the
	// background sweeper could take it until the stop lands.
	syscall.RawSyscall(syscall.SYS_KILL, pid, uintptr(syscall.SIGSTOP), 0)
}
