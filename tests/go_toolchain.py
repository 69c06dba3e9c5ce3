#!/usr/bin/env python3
"""Installs a Go toolchain the test suite builds its workloads with.

    python3 tests/go_toolchain.py VERSION DIR

VERSION is one the suite names (1.26.8, 1.27.3); DIR/bin/go is that release's
go command afterwards. The toolchain is the module golang.org/toolchain
v0.0.1-goVERSION.linux-amd64 from the Go module proxy ($GOPROXY's first URL,
else https://proxy.golang.org), as `GOTOOLCHAIN=goVERSION go` fetches it; its
zip is checked against the checksum the Go checksum database holds for it
(pinned below, the h1: hash `go mod download` reports), then unpacked. It
needs no Go installed. Nothing is done when DIR/bin/go already is that
release.
"""

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile

# go mod download -json golang.org/toolchain@v0.0.1-goVERSION.linux-amd64: "Sum".
SUMS = {
    "1.26.8": "h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM=",
    "1.27.3": "h1:r0ub+FnqzZxoWm/dSUOI9DcIqYWn/mNYGFJcv7PyBzs=",
}


def fail(msg):
    print("memtrace: go toolchain: " + msg, file=sys.stderr)
    sys.exit(1)


def installed(go, version):
    try:
        out = subprocess.run([go, "version"], capture_output=True, text=True,
                             env=dict(os.environ, GOTOOLCHAIN="local"), timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.startswith("go version go%s " % version)


def proxy():
    for url in os.environ.get("GOPROXY", "").replace("|", ",").split(","):
        if url.startswith(("https://", "http://")):
            return url.rstrip("/")
    return "https://proxy.golang.org"


def h1(zf):
    """golang.org/x/mod/sumdb/dirhash.Hash1 of the zip's files."""
    summary = hashlib.sha256()
    for name in sorted(zf.namelist()):
        if name.endswith("/"):
            continue
        if "\n" in name:
            fail("a file name with a newline in the zip")
        summary.update(("%s  %s\n" % (hashlib.sha256(zf.read(name)).hexdigest(), name))
                       .encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def main():
    if len(sys.argv) != 3:
        fail("usage: go_toolchain.py VERSION DIR")
    version, dest = sys.argv[1], os.path.abspath(sys.argv[2])
    if version not in SUMS:
        fail("go%s: no checksum pinned for it (known: %s)" % (version, ", ".join(SUMS)))
    go = os.path.join(dest, "bin", "go")
    if installed(go, version):
        return
    module = "golang.org/toolchain@v0.0.1-go%s.linux-amd64" % version
    url = "%s/golang.org/toolchain/@v/v0.0.1-go%s.linux-amd64.zip" % (proxy(), version)
    print("memtrace: fetching go%s from %s" % (version, url), file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            data = r.read()
    except OSError as e:
        fail("cannot fetch %s: %s" % (url, e))
    zf = zipfile.ZipFile(io.BytesIO(data))
    sum_ = h1(zf)
    if sum_ != SUMS[version]:
        fail("%s: checksum %s, expected %s" % (url, sum_, SUMS[version]))
    prefix = module + "/"
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for info in zf.infolist():
        if not info.filename.startswith(prefix) or ".." in info.filename.split("/"):
            fail("%s: unexpected file %s" % (url, info.filename))
        rel = info.filename[len(prefix):]
        if not rel or info.filename.endswith("/"):
            continue
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(zf.read(info))
        # Module zips keep no modes: the commands are bin/ and pkg/tool/'s (as cmd/go sets them).
        parts = rel.split("/")
        os.chmod(path, 0o755 if parts[0] == "bin" or parts[:2] == ["pkg", "tool"] else 0o644)
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp, dest)
    if not installed(go, version):
        fail("%s does not report go%s" % (go, version))


if __name__ == "__main__":
    main()
