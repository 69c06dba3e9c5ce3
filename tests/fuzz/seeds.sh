#!/bin/sh
# Seed corpora for the fuzz harnesses, derived at fuzz time from real files
# of this machine (nothing large is kept in the repository):
#
#     tests/fuzz/seeds.sh OUTDIR [BUILD_DIR]
#
# writes OUTDIR/<harness>/ for procmaps, elf, pclntab, vmtrack, json and unwind
# (and OUTDIR/elf-whole/: see below).
# BUILD_DIR (default .output) is where the Go and static test workloads are
# looked for; what is not built is skipped.
set -eu

out=$1
build=${2:-.output}
# The line fuzz_elf.c splits an input at: the separate debug file follows it.
split='--memtrace-fuzz-debug-file--'

rm -rf "$out"
mkdir -p "$out/procmaps" "$out/elf" "$out/pclntab" "$out/vmtrack" "$out/json" "$out/unwind"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- procmaps

cat /proc/self/maps >"$out/procmaps/self"
cat /proc/$$/maps >"$out/procmaps/shell"
n=0
for d in /proc/[0-9]*; do
	[ "$n" -lt 6 ] || break
	f="$out/procmaps/pid-${d#/proc/}"
	head -c 65536 "$d/maps" >"$f" 2>/dev/null || true
	if [ -s "$f" ]; then n=$((n + 1)); else rm -f "$f"; fi
done
# What real files seldom show: deleted files, blanks in paths, no final
# newline, special mappings, odd device numbers.
printf '%s\n' \
	'55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]' \
	'7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 ' \
	'7f1c2a021000-7f1c2e000000 ---p 00000000 00:00 0' \
	'7f1c2e000000-7f1c2e200000 r-xp 00028000 fd:01 1835019                    /tmp/a b/lib c.so (deleted)' \
	'7f1c2e200000-7f1c2e201000 rw-s 00000000 00:05 4242                       /memfd:x (deleted)' \
	'7ffd4b3d0000-7ffd4b3f1000 rw-p 00000000 00:00 0                          [stack]' \
	'7ffd4b3f5000-7ffd4b3f7000 r-xp 00000000 00:00 0                          [vdso]' \
	'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]' \
	>"$out/procmaps/handmade"
printf '00400000-00401000 r-xp 00000000 103:02 12 /bin/x\n00401000-00400000 r-xp 0 0:0 0\n7f00-7f01 rwxp 0 ffffffff:ffffffff 18446744073709551615 (deleted)' \
	>"$out/procmaps/edges"

# ---------------------------------------------------------------- elf

# Whole libraries and programs go to elf-whole/, which each run replays
# once: mutating megabytes is slow (~150 runs/s against ~10000). What is
# fuzzed is derived from them: the sections memtrace reads (-j), and their
# debug-file halves (--only-keep-debug), a few hundred KiB at most.
mkdir -p "$out/elf-whole"
whole_elf() {
	[ -f "$1" ] || return 0
	cp -L "$1" "$out/elf-whole/$2"
	objcopy -j .dynsym -j .dynstr -j .symtab -j .strtab -j .note.gnu.build-id \
		-j .gnu_debuglink -j .gopclntab -j .go.buildinfo -j .note.go.buildid \
		"$1" "$out/elf/$2-syms" 2>/dev/null || rm -f "$out/elf/$2-syms"
	objcopy --only-keep-debug "$1" "$out/elf/$2-debug" 2>/dev/null || rm -f "$out/elf/$2-debug"
}

whole_elf /lib/x86_64-linux-gnu/libc.so.6 libc.so.6
whole_elf /usr/lib/x86_64-linux-gnu/libstdc++.so.6 libstdc++.so.6
whole_elf "$build/tests/go1.19/goretain_stripped" goretain_stripped
whole_elf "$build/tests/go1.27/goretain_stripped" goretain_stripped_go127
whole_elf "$build/tests/family_static" family_static

# Small programs of our own: a C one and a C++ one (mangled names).
cat >"$tmp/small.c" <<'EOF'
#include <stdlib.h>
__attribute__((noinline)) void *leak(size_t n) { return malloc(n); }
int main(void) { free(leak(16)); return 0; }
EOF
cat >"$tmp/small.cc" <<'EOF'
#include <string>
#include <vector>
namespace ns { template <class T> struct box { std::vector<T> v; void put(T x) { v.push_back(x); } }; }
int main() { ns::box<std::string> b; b.put("x"); return (int)b.v.size() - 1; }
EOF
small=
if have gcc && gcc -g -O1 -Wl,--build-id -o "$tmp/small" "$tmp/small.c" 2>/dev/null; then
	small="$tmp/small"
	cp "$small" "$out/elf/small"
	gcc -g -O1 -static -o "$tmp/small_static" "$tmp/small.c" 2>/dev/null &&
		strip -o "$out/elf/small_static_stripped" "$tmp/small_static" || true
fi
cxx=
if have g++ && g++ -g -O1 -o "$tmp/smallxx" "$tmp/small.cc" 2>/dev/null; then
	cxx="$tmp/smallxx"
	cp "$cxx" "$out/elf/smallxx"
fi

# A stripped file and its debug file, joined at the split line: the harness
# writes the debug file where the lookup finds it (build-id, then
# .gnu_debuglink = fuzz.debug).
debug_pair() {
	src=$1 name=$2
	[ -f "$src" ] || return 0
	objcopy --only-keep-debug "$src" "$tmp/fuzz.debug" || return 0
	objcopy --strip-all "$src" "$tmp/stripped" || return 0
	objcopy --add-gnu-debuglink="$tmp/fuzz.debug" "$tmp/stripped" || return 0
	cp "$tmp/stripped" "$out/elf/$name-stripped"
	{ cat "$tmp/stripped"; printf '\n%s\n' "$split"; cat "$tmp/fuzz.debug"; } \
		>"$out/elf/$name-pair"
	# Without build-id notes: only the debuglink's CRC ties them.
	if objcopy --remove-section=.note.gnu.build-id "$tmp/stripped" "$tmp/nobid" 2>/dev/null &&
	   objcopy --remove-section=.note.gnu.build-id "$tmp/fuzz.debug" "$tmp/nobid.debug" 2>/dev/null; then
		cp "$tmp/nobid.debug" "$tmp/fuzz.debug"
		objcopy --remove-section=.gnu_debuglink "$tmp/nobid" "$tmp/nolink" &&
			objcopy --add-gnu-debuglink="$tmp/fuzz.debug" "$tmp/nolink" &&
			{ cat "$tmp/nolink"; printf '\n%s\n' "$split"; cat "$tmp/fuzz.debug"; } \
				>"$out/elf/$name-pair-crc" || true
	fi
}

debug_pair "$small" small
debug_pair "$cxx" smallxx
debug_pair "$build/tests/exitleak" exitleak

# Sections compressed as SHF_COMPRESSED (ELFCOMPRESS_ZLIB): objcopy does it
# for .debug_* only, but memtrace reads .symtab, .strtab and .gnu_debuglink,
# which a crafted file may compress too.
compress() {
	python3 - "$@" <<'EOF'
import struct, sys, zlib
src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
b = bytearray(open(src, "rb").read())
if b[:4] != b"\x7fELF" or b[4] != 2 or b[5] != 1:
    sys.exit(0)
shoff, = struct.unpack_from("<Q", b, 0x28)
shnum, shstrndx = struct.unpack_from("<HH", b, 0x3c)
def sh(i):
    return list(struct.unpack_from("<IIQQQQIIQQ", b, shoff + 64 * i))
strtab = sh(shstrndx)
for i in range(shnum):
    h = sh(i)
    name = bytes(b[strtab[4] + h[0]:]).split(b"\0", 1)[0].decode()
    if name not in names or h[1] == 8 or h[2] & 0x2:    # NOBITS, ALLOC
        continue
    raw = bytes(b[h[4]:h[4] + h[5]])
    blob = struct.pack("<IIQQ", 1, 0, len(raw), h[8] or 1) + zlib.compress(raw)
    b += b"\0" * (-len(b) % 8)
    h[4], h[5], h[2], h[8] = len(b), len(blob), h[2] | 0x800, 8
    b += blob
    struct.pack_into("<IIQQQQIIQQ", b, shoff + 64 * i, *h)
open(dst, "wb").write(b)
EOF
}

if have python3; then
	[ -n "$small" ] && compress "$small" "$out/elf/small-zsymtab" .symtab,.strtab,.gnu_debuglink
	[ -f "$out/elf/small-stripped" ] &&
		compress "$out/elf/small-stripped" "$out/elf/small-stripped-zlink" .gnu_debuglink
	if [ -f "$out/elf/smallxx-pair" ] && [ -n "$cxx" ]; then
		mkdir -p "$tmp/z"
		objcopy --only-keep-debug "$cxx" "$tmp/dbg" &&
			compress "$tmp/dbg" "$tmp/z/fuzz.debug" .symtab,.strtab &&
			objcopy --strip-all "$cxx" "$tmp/s" &&
			objcopy --add-gnu-debuglink="$tmp/z/fuzz.debug" "$tmp/s" &&
			{ cat "$tmp/s"; printf '\n%s\n' "$split"; cat "$tmp/z/fuzz.debug"; } \
				>"$out/elf/smallxx-pair-zdebug" || true
	fi
fi
# Debug sections compressed by objcopy itself, zlib and zstd.
if [ -n "$small" ]; then
	objcopy --compress-debug-sections=zlib-gabi "$small" "$out/elf/small-zdebug" 2>/dev/null || true
	objcopy --compress-debug-sections=zstd "$small" "$out/elf/small-zstd" 2>/dev/null || true
	# Cut short: tables past the end of the file.
	head -c 6000 "$small" >"$out/elf/small-truncated"
fi

# ---------------------------------------------------------------- pclntab

for go in "$build"/tests/go1.*/goretain_stripped "$build"/tests/go1.*/gohot; do
	[ -f "$go" ] || continue
	objcopy -O binary --only-section=.gopclntab "$go" \
		"$out/pclntab/$(basename "$(dirname "$go")")-$(basename "$go")" 2>/dev/null || true
done
# A header alone, Go 1.20 magic, no functions.
printf '\361\377\377\377\000\000\001\010' >"$out/pclntab/header"
head -c 64 /dev/zero >>"$out/pclntab/header"

# ---------------------------------------------------------------- unwind

# fuzz_unwind.c's input: u64 section vaddr, u64 GOT vaddr, u8 flags (1:
# .debug_frame), then the section's bytes.
cfi_seed() {
	python3 - "$@" <<'EOF'
import struct, sys
src, dst, want, flags = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
b = open(src, "rb").read()
if b[:4] != b"\x7fELF" or b[4] != 2 or b[5] != 1:
    sys.exit(0)
shoff, = struct.unpack_from("<Q", b, 0x28)
shnum, shstrndx = struct.unpack_from("<HH", b, 0x3c)
shs = [struct.unpack_from("<IIQQQQIIQQ", b, shoff + 64 * i) for i in range(shnum)]
def name(h):
    return b[shs[shstrndx][4] + h[0]:].split(b"\0", 1)[0].decode()
got = next((h[3] for h in shs if name(h) in (".got.plt", ".got")), 0)
for h in shs:
    if name(h) == want and h[1] != 8 and not h[2] & 0x800:
        open(dst, "wb").write(struct.pack("<QQB", h[3], got, flags) + b[h[4]:h[4] + h[5]])
EOF
}

if have python3; then
	for f in elf-whole/libc.so.6 elf-whole/libstdc++.so.6 elf-whole/family_static \
		 elf/small elf/smallxx; do
		[ -f "$out/$f" ] && cfi_seed "$out/$f" "$out/unwind/${f#*/}" .eh_frame 0
	done
	if have gcc && gcc -g -O1 -fno-asynchronous-unwind-tables -fno-exceptions \
		-o "$tmp/dframe" "$tmp/small.c" 2>/dev/null; then
		cfi_seed "$tmp/dframe" "$out/unwind/debug_frame" .debug_frame 1
	fi
fi

# ---------------------------------------------------------------- vmtrack

# struct mt_vm_event: ts, args[6], ret, stack_id, pid, nr, in_alloc, pad.
python3 - "$out/vmtrack" <<'EOF'
import struct, sys
MMAP, MPROTECT, MUNMAP, BRK, MREMAP, MADVISE = 9, 10, 11, 12, 25, 28
ANON, PRIV, SHARED = 0x20, 0x02, 0x01
RW, NONE = 3, 0
DONTNEED, FREE = 4, 8
P = 4096
A, B, H = 0x7f0000000000, 0x7f0010000000, 0x555500000000

def ev(nr, ret, *args, in_alloc=0, stack=0):
    args = list(args) + [0] * (6 - len(args))
    return struct.pack("<Q6QqQIIII", 0, *args, ret, stack, 1, nr, in_alloc, 0)

seqs = {
    "mmap-split": [
        ev(MMAP, A, 0, 64 * P, RW, PRIV | ANON, 2**64 - 1, 0, in_alloc=1, stack=7),
        ev(MPROTECT, 0, A + 8 * P, 8 * P, NONE),
        ev(MADVISE, 0, A + 20 * P, 10 * P, DONTNEED),
        ev(MUNMAP, 0, A + 24 * P, 2 * P),
        ev(MADVISE, 0, A, 64 * P, FREE),
        ev(MMAP, A + 4 * P, A + 4 * P, 4 * P, RW, PRIV | ANON | 0x10),
    ],
    "arena": [
        ev(MMAP, B, 0, 1 << 27, NONE, PRIV | ANON | 0x4000, in_alloc=1),
        ev(MUNMAP, 0, B + (1 << 26), 1 << 26),
        ev(MPROTECT, 0, B, 33 * P, RW),
        ev(MPROTECT, 0, B + 33 * P, 100 * P, RW),
        ev(MADVISE, 0, B + 40 * P, 50 * P, DONTNEED),
        ev(MUNMAP, 0, B, 1 << 26),
    ],
    "brk": [
        ev(BRK, H, 0),
        ev(BRK, H + 0x21000, H + 0x21000, in_alloc=1),
        ev(BRK, H + 0x42000 + 12, H + 0x42000 + 12, in_alloc=1),
        ev(MADVISE, 0, H + 0x10000, 0x20000, DONTNEED),
        ev(BRK, H + 0x30000, H + 0x30000, in_alloc=1),
        ev(BRK, -12, 2**64 - 1),
    ],
    "mremap": [
        ev(MMAP, A, 0, 16 * P, RW, PRIV | ANON, in_alloc=1),
        ev(MREMAP, A, A, 16 * P, 32 * P, 0),
        ev(MREMAP, B, A, 32 * P, 64 * P, 1),
        ev(MREMAP, A, B, 64 * P, 64 * P, 1 | 2 | 4, A),
        ev(MMAP, A + P, 0, P, RW, SHARED),
        ev(MREMAP, B + P, A + P, P, P, 1),
    ],
}
for name, evs in seqs.items():
    open("%s/%s" % (sys.argv[1], name), "wb").write(b"".join(evs))
EOF

# ---------------------------------------------------------------- json

# Hand-written, in the shape memtrace writes (running memtrace here would
# need root and BPF, and take seconds).
cat >"$out/json/report" <<'EOF'
{
  "version": 1,
  "duration_s": 0.018281404,
  "lost_events": 0,
  "counters": { "allocs_map_full": 0, "stacks_map_full": 0, "stack_truncated": 0,
    "stack_read_failed": 0, "missed_returns": 0, "unknown_frees": 0, "addr_reused": 0,
    "failed_allocs": 0, "vm_events_lost": 0, "procs_map_full": 0 },
  "min_age_s": 0.0,
  "processes": [
    {
      "pid": 27553, "comm": "exitleak", "exe": "/opt/t/exitleak", "runtime": "native",
      "allocator": "glibc", "allocator_path": "/lib/x86_64-linux-gnu/libc.so.6",
      "rss_bytes": 1335296, "exited": true,
      "heap": { "live_bytes": 6144, "live_allocs": 3, "alloc_bytes_total": 6144, "allocs_total": 3, "frees_total": 0 },
      "vm": { "mapped_bytes": 208896, "released_bytes": 0, "retained_bytes": 2048, "retained_upper_bound": false, "heap_resident_bytes": 8192, "rss_bytes": 1335296, "rss_anon_bytes": 118784 },
      "vm_stacks": [
        { "mapped_bytes": 135168, "resident_bytes": 8192, "regions": 1, "before_tracing": false, "frames": [
            { "function": "leak_then_exit", "module": "/opt/t/exitleak", "offset": 5572, "file": "/src/exitleak.c", "line": 21, "inlined": false },
            { "function": "__mmap64", "module": "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "offset": 134306, "file": "../sysdeps/unix/sysv/linux/mmap64.c", "line": 58, "inlined": true },
            { "function": "_start", "module": "/opt/t/exitleak", "offset": 4448, "file": null, "line": null, "inlined": false }
          ] },
        { "mapped_bytes": 8192, "resident_bytes": 0, "regions": 2, "before_tracing": true, "frames": [] }
      ],
      "unresolved_frames": 1, "stacks_total": 2,
      "stacks": [
        { "live_bytes": 6144, "live_allocs": 3, "alloc_bytes_total": 6144, "allocs_total": 3,
          "frees_total": 0, "oldest_age_s": 0.012, "truncated": false, "frames": [
            { "function": "leak_then_exit", "module": "/opt/t/exitleak", "offset": 5572, "file": "/src/exitleak.c", "line": 21, "inlined": false },
            { "function": "main", "module": "/opt/t/exitleak", "offset": 4392, "file": "/src/exitleak.c", "line": 31, "inlined": false },
            { "function": null, "module": "/lib/x86_64-linux-gnu/libc.so.6", "offset": 160329, "file": null, "line": null, "inlined": false },
            { "function": null, "module": null, "offset": 140737488355328, "file": null, "line": null, "inlined": false } ] },
        { "live_bytes": 0, "live_allocs": 0, "alloc_bytes_total": 64000, "allocs_total": 1000,
          "frees_total": 1000, "oldest_age_s": null, "truncated": true, "frames": [] }
      ]
    },
    { "pid": 7, "comm": "goretain", "exe": "/opt/t/goretain", "runtime": "go", "allocator": "go",
      "allocator_path": "/opt/t/goretain", "rss_bytes": 9, "exited": false,
      "heap": { "live_bytes": null, "live_allocs": null, "alloc_bytes_total": 1e3, "allocs_total": 2, "frees_total": 0 },
      "vm": null, "unresolved_frames": 0, "stacks_total": 0, "stacks": [] }
  ]
}
EOF
cat >"$out/json/small-report" <<'EOF'
{ "version": 1, "duration_s": 3.0, "lost_events": 0,
  "counters": { "allocs_map_full": 0, "stacks_map_full": 0, "unknown_frees": 2 },
  "min_age_s": 0,
  "processes": [ { "pid": 1, "comm": "x", "exe": "/path", "runtime": "native",
    "allocator": "glibc", "rss_bytes": 123, "exited": false,
    "heap": { "live_bytes": 6144, "live_allocs": 3, "alloc_bytes_total": 6144,
              "allocs_total": 3, "frees_total": 0 },
    "vm": { "mapped_bytes": null, "released_bytes": null, "retained_bytes": null },
    "unresolved_frames": 0, "stacks_total": 1,
    "stacks": [ { "live_bytes": 6144, "live_allocs": 3, "alloc_bytes_total": 6144,
                  "allocs_total": 3, "frees_total": 0, "oldest_age_s": 1.5e0,
                  "truncated": false,
                  "frames": [ { "function": "leak_then_exit", "module": "/p/exitleak",
                                "offset": 4660, "file": null, "line": null,
                                "inlined": false } ] } ] } ] }
EOF
printf '%s' '["\u00e9\ud83d\ude00\\\/\b\f\n\r\t", -0, 1E+2, -9223372036854775808, 9223372036854775808, 1.7976931348623157e308, 5e-324, "caf\303\251", {"a":{"a":[[[]]]},"a":true}]' \
	>"$out/json/escapes"
printf '%s' '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]' \
	>"$out/json/deep"
printf '{"k": "\\ud800", "n": 01}' >"$out/json/invalid"
