#!/bin/sh
# Installs the Debian 12 packages memtrace needs to build and test, when missing.
set -e
PKGS="make gcc g++ clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev \
libjemalloc-dev libjemalloc2 golang-go python3 binutils procps util-linux chromium heaptrack"
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
