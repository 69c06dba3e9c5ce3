#!/bin/sh
# vendor.sh DIR: the crates Cargo.lock names, from crates.io's download host,
# checked against the lock's SHA-256 and unpacked into DIR as a cargo
# directory source. cargo then builds offline: no registry index is fetched
# (Debian 12's cargo would fetch it with git from a host outside crates.io).
set -eu
dir=$1
lock=$(dirname "$0")/Cargo.lock
mkdir -p "$dir"
awk '/^\[\[package\]\]/ { n = v = s = c = "" }
     /^name = /     { n = $3 } /^version = / { v = $3 }
     /^source = "registry\+/ { s = 1 }
     /^checksum = / { c = $3; if (s) print n, v, c }' "$lock" | tr -d '"' |
while read -r name version sum; do
	dest="$dir/$name-$version"
	[ -f "$dest/.cargo-checksum.json" ] && continue
	tmp="$dir/.$name-$version.crate"
	curl -fsS --retry 3 -o "$tmp" "https://static.crates.io/crates/$name/$name-$version.crate"
	if [ "$(sha256sum "$tmp" | cut -d' ' -f1)" != "$sum" ]; then
		echo "memtrace: $name-$version.crate does not match Cargo.lock's checksum" >&2
		rm -f "$tmp"
		exit 1
	fi
	rm -rf "$dest"
	tar -xzf "$tmp" -C "$dir"
	rm -f "$tmp"
	printf '{"files":{},"package":"%s"}\n' "$sum" > "$dest/.cargo-checksum.json"
done
