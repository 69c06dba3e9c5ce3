#!/bin/sh
# Installs the Debian 12 packages memtrace needs to build and test, when missing.
#   tests/install-deps.sh          install what is missing (as root)
#   tests/install-deps.sh --list   print the package list, one a line
# Build: compilers, libbpf/bpftool, and the -dev packages of every library the
# binary links statically (libelf, libdw, zlib, zstd, lzma, bz2, ncurses,
# jemalloc, its own allocator,
# libiberty).
# Tests: the allocators, runtimes and services the workloads use (jemalloc,
# tcmalloc, Go 1.19; go1.26 and go1.27 come from the Go module proxy over
# https, hence ca-certificates: tests/go_toolchain.py), redis-server, the
# tools end-to-end tests drive (tmux for the display, unshare/setpriv from
# util-linux, chromium for the SVG, heaptrack to compare stacks with), and
# clang's libFuzzer runtime for the fuzz smoke test; cargo for the Rust workloads;
# libmicrohttpd for --serve, and prometheus (with promtool) that scrapes it in
# the tests (its own service is disabled when this script installs it: the
# tests start theirs on loopback). tests/e2e/test_deps.py
# checks that this list covers every header and static library the build uses.
set -e
PKGS="make gcc g++ clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev libzstd-dev \
liblzma-dev libbz2-dev libncurses-dev libiberty-dev libmicrohttpd-dev libclang-rt-14-dev libjemalloc-dev libjemalloc2 libgoogle-perftools-dev redis-server golang-go golang-1.19 \
python3 binutils procps util-linux tmux chromium heaptrack curl ca-certificates prometheus"
# The Rust workloads: rustup's cargo where there is one, else Debian's (rustc 1.63,
# which their Cargo.lock is kept buildable with).
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
	PKGS="$PKGS cargo"
fi
if [ "${1:-}" = "--list" ]; then
	printf '%s\n' $PKGS
	exit 0
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "memtrace: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "memtrace: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts Prometheus as a service listening on every interface: not asked for here.
case " $missing " in
*" prometheus "*)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now prometheus >/dev/null 2>&1 || true
	fi
	;;
esac
