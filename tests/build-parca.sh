#!/bin/sh
# Builds Parca's server for tests/e2e/test_fleet.py into DIR/bin/parca, once:
# make test builds it when it is missing and never again while it is there.
#   tests/build-parca.sh DIR
# Parca (github.com/parca-dev/parca, Apache-2.0) is fetched from the Go module
# proxy with `go install`; nothing of it goes into the repository. Its v0.21.0
# needs go 1.21 and Debian 12's go is 1.19, so the toolchain comes from the
# proxy too (the module golang.org/toolchain, checked against the checksum
# database as any module is). The last lines of the build's log stay in
# DIR/build.log for the test to quote when the build failed.
set -eu
DIR=$1
VERSION=v0.21.0
TOOLCHAIN=v0.0.1-go1.21.13.linux-amd64
GO19=${GO19:-/usr/lib/go-1.19/bin/go}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
export GOPATH="$DIR/gopath" GOMODCACHE="${GOMODCACHE:-$DIR/gopath/pkg/mod}" GOCACHE="$DIR/gocache" \
	GOFLAGS=-mod=mod GO111MODULE=on CGO_ENABLED=0 GOTOOLCHAIN=local
start=$(date +%s)
echo "memtrace: building Parca $VERSION once, into $DIR (for test_fleet; minutes)" >&2
{
	if [ ! -x "$DIR/go/bin/go" ]; then
		"$GO19" mod download "golang.org/toolchain@$TOOLCHAIN"
		rm -rf "$DIR/go.tmp"
		cp -r "$GOMODCACHE/golang.org/toolchain@$TOOLCHAIN" "$DIR/go.tmp"
		chmod -R u+w "$DIR/go.tmp"
		chmod +x "$DIR/go.tmp/bin/"* "$DIR/go.tmp/pkg/tool/"*/*
		mv "$DIR/go.tmp" "$DIR/go"
	fi
	GOBIN="$DIR/bin" nice "$DIR/go/bin/go" install "github.com/parca-dev/parca/cmd/parca@$VERSION"
} > "$DIR/build.log" 2>&1 || {
	echo "memtrace: building Parca failed (test_fleet will say why): $(tail -1 "$DIR/build.log")" >&2
	exit 1
}
echo "Parca $VERSION built in $(( $(date +%s) - start )) s" >> "$DIR/build.log"
