"""Helpers for the tests of memtrace --serve: a served run, HTTP requests
with their status, headers and body, a profile.proto reader, and Parca's
rules for a profile it ingests.

    s = Served(["-p", pid, "-i", "0.5"])    memtrace --serve 127.0.0.1:0 ARGS
    status, headers, body = s.get("/metrics")
    rep = s.wait_report(lambda r: ..., 10)   /report.json until it says so
    s.stop()                                 SIGINT, exit status 0 checked

Every Served registers as an mtlib.Run, so a failing test shows memtrace's
stderr (and the sanitizer build's reports fail the test).
"""

import gzip
import http.client
import json
import os
import signal
import socket
import tempfile
import time
import urllib.parse

import mtlib


class Client:
    """Requests to a memtrace server at url."""

    def __init__(self, url):
        self.url = url
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port

    def get(self, path, method="GET", timeout=20, headers=None):
        """(status, {lowercase header: value}, body bytes) of one request."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=mtlib.remaining(timeout))
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def get_ok(self, path, timeout=20):
        status, headers, body = self.get(path, timeout=timeout)
        if status != 200:
            raise AssertionError("GET %s: %d %r" % (path, status, body[:300]))
        return headers, body

    def report(self, path="/report.json"):
        return json.loads(self.get_ok(path)[1])

    def wait_report(self, pred, timeout, what="the report", path="/report.json"):
        """path until pred(report) holds; that report. Refused or failed
        requests (the server busy with other clients) are tried again."""
        end = time.monotonic() + mtlib.remaining(timeout)
        last, problem = None, None
        while time.monotonic() < end:
            try:
                status, _, body = self.get(path, timeout=5)
                if status == 200:
                    last = json.loads(body)
                    if pred(last):
                        return last
                else:
                    problem = "%d %r" % (status, body[:100])
            except (OSError, http.client.HTTPException) as e:
                problem = repr(e)
            time.sleep(0.2)
        raise AssertionError("%s never came within %.0f s (last: %s; last problem: %s)"
                             % (what, timeout, json.dumps(last)[:600] if last else None,
                                problem))

    def metrics(self):
        """/metrics as {(name, frozenset of label pairs): value}."""
        return parse_metrics(self.get_ok("/metrics")[1].decode("utf-8"))


class Served(Client):
    def __init__(self, args, env=None, addr="127.0.0.1:0"):
        self.run = mtlib.Run(None, tempfile.gettempdir())
        argv = [mtlib.memtrace_path(), "--serve", addr] + [str(a) for a in args]
        self.run.argv = argv
        self.mt = mtlib.Proc(argv, env=env, name="memtrace")
        try:
            i = self.mt.wait_line("stderr", lambda l: l.startswith("memtrace: serving on "),
                                  30, '"memtrace: serving on" line')
            Client.__init__(self, self.mt.lines["stderr"][i].split()[-1])
        except BaseException:
            self.close()
            raise

    def sync(self):
        self.run.mt_stdout, self.run.mt_stderr = self.mt.text("stdout"), self.mt.text("stderr")

    def rss_kb(self):
        with open("/proc/%d/status" % self.mt.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for memtrace")

    def stop(self, timeout=30, expect=0):
        """SIGINT; memtrace must exit `expect` (-- COMMAND: the command's status)."""
        self.mt.signal(signal.SIGINT)
        status = self.mt.wait(timeout, "after SIGINT")
        self.sync()
        if status != expect:
            raise AssertionError("memtrace --serve exited %s after SIGINT, expected %s"
                                 % (status, expect))

    def close(self):
        self.sync()
        self.mt.kill()
        self.sync()


def parse_labels(text):
    """'a="x",b="y\\"z"' -> frozenset of pairs (the exposition format's escapes)."""
    out, i = [], 0
    while i < len(text):
        eq = text.index("=", i)
        key = text[i:eq].strip().lstrip(",")
        assert text[eq + 1] == '"', "label value not quoted in %r" % text
        j, val = eq + 2, ""
        while text[j] != '"':
            if text[j] == "\\":
                val += {"n": "\n", "\\": "\\", '"': '"'}[text[j + 1]]
                j += 2
            else:
                val += text[j]
                j += 1
        out.append((key, val))
        i = j + 1
        if i < len(text) and text[i] == ",":
            i += 1
    return frozenset(out)


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            labels, value = rest.rsplit("} ", 1)
            key = (name, parse_labels(labels))
        else:
            name, value = line.split(" ", 1)
            key = (name, frozenset())
        if key in out:
            raise AssertionError("two series %s in /metrics" % (key,))
        out[key] = float(value)
    return out


def series(metrics, name, **labels):
    """Values of the series of `name` whose labels include `labels`."""
    want = {(k, str(v)) for k, v in labels.items()}
    return [v for (n, ls), v in metrics.items() if n == name and want <= ls]


def one(metrics, name, **labels):
    vals = series(metrics, name, **labels)
    if len(vals) != 1:
        raise AssertionError("%d series %s%s, expected 1" % (len(vals), name, labels))
    return vals[0]


def free_port():
    """A TCP port free on loopback now (for a server that cannot take port 0)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_sanitized = {}


def sanitized():
    """Whether the memtrace under test is the sanitizer build, whose
    quarantine keeps freed memory: its RSS says nothing about leaks."""
    path = mtlib.memtrace_path()
    if path not in _sanitized:
        with open(path, "rb") as f:
            _sanitized[path] = b"__asan_init" in f.read()
    return _sanitized[path]


def artifacts_dir(name):
    """Where a test keeps what it produced for people to look at: beside the
    binary under test (.output/test-artifacts/NAME, or .output/asan/...)."""
    d = os.path.join(os.path.dirname(mtlib.memtrace_path()), "test-artifacts", name)
    os.makedirs(d, exist_ok=True)
    return d


# ---------------------------------------------------------------- profile.proto

def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def _fields(b):
    """(field number, wire type, value) of a message: ints or bytes."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = int.from_bytes(b[i:i + 8], "little"), i + 8
        elif wt == 5:
            v, i = int.from_bytes(b[i:i + 4], "little"), i + 4
        else:
            raise AssertionError("wire type %d in profile" % wt)
        yield f, wt, v


def _ints(wt, v, signed=False):
    vals = []
    if wt == 0:
        vals = [v]
    else:
        i = 0
        while i < len(v):
            x, i = _varint(v, i)
            vals.append(x)
    if signed:
        vals = [x - (1 << 64) if x >= 1 << 63 else x for x in vals]
    return vals


def decode_profile(data):
    """A gzipped (or not) profile.proto as dicts: ids and string indexes as
    written, so that rules about them can be checked."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    p = {"sample_type": [], "sample": [], "mapping": [], "location": [], "function": [],
         "string_table": [], "comment": [], "period": 0, "period_type": None,
         "default_sample_type": 0, "time_nanos": 0, "duration_nanos": 0}
    for f, wt, v in _fields(data):
        if f in (1, 11):
            vt = {"type": 0, "unit": 0}
            for g, _, x in _fields(v):
                vt[{1: "type", 2: "unit"}[g]] = x
            if f == 1:
                p["sample_type"].append(vt)
            else:
                p["period_type"] = vt
        elif f == 2:
            s = {"location_id": [], "value": [], "label": []}
            for g, w, x in _fields(v):
                if g == 1:
                    s["location_id"] += _ints(w, x)
                elif g == 2:
                    s["value"] += _ints(w, x, signed=True)
                elif g == 3:
                    lab = {"key": 0, "str": 0, "num": 0}
                    for h, _, y in _fields(x):
                        lab[{1: "key", 2: "str", 3: "num", 4: "num_unit"}[h]] = y
                    s["label"].append(lab)
            p["sample"].append(s)
        elif f == 3:
            m = {"id": 0, "memory_start": 0, "memory_limit": 0, "file_offset": 0, "filename": 0,
                 "build_id": 0, "has_functions": 0, "has_filenames": 0, "has_line_numbers": 0,
                 "has_inline_frames": 0}
            names = [None, "id", "memory_start", "memory_limit", "file_offset", "filename",
                     "build_id", "has_functions", "has_filenames", "has_line_numbers",
                     "has_inline_frames"]
            for g, _, x in _fields(v):
                m[names[g]] = x
            p["mapping"].append(m)
        elif f == 4:
            loc = {"id": 0, "mapping_id": 0, "address": 0, "line": []}
            for g, _, x in _fields(v):
                if g == 4:
                    ln = {"function_id": 0, "line": 0}
                    for h, _, y in _fields(x):
                        ln[{1: "function_id", 2: "line", 3: "column"}[h]] = y
                    loc["line"].append(ln)
                else:
                    loc[{1: "id", 2: "mapping_id", 3: "address", 5: "is_folded"}[g]] = x
            p["location"].append(loc)
        elif f == 5:
            fn = {"id": 0, "name": 0, "system_name": 0, "filename": 0, "start_line": 0}
            for g, _, x in _fields(v):
                fn[{1: "id", 2: "name", 3: "system_name", 4: "filename", 5: "start_line"}[g]] = x
            p["function"].append(fn)
        elif f == 6:
            p["string_table"].append(v.decode("utf-8"))
        elif f == 13:
            p["comment"] += _ints(wt, v)
        elif f in (9, 10, 12, 14):
            p[{9: "time_nanos", 10: "duration_nanos", 12: "period",
               14: "default_sample_type"}[f]] = v
    return p


def parca_rules(p):
    """Parca's ValidatePprofProfile (pkg/normalizer/validate.go): the rules a
    profile must pass before Parca stores it. A list of what breaks them."""
    errs = []
    strs = len(p["string_table"])
    if strs and p["string_table"][0] != "":
        errs.append("string table entry 0 is %r, not empty" % p["string_table"][0])
    for kind, refs in (("mapping", ("filename", "build_id")),
                       ("function", ("name", "system_name", "filename")),
                       ("location", ())):
        for i, x in enumerate(p[kind]):
            if x["id"] != i + 1:
                errs.append("%s ids are not 1..N in order (%d at %d)" % (kind, x["id"], i))
                break
            for r in refs:
                if x[r] > strs:
                    errs.append("%s %d: %s index %d out of the string table"
                                % (kind, x["id"], r, x[r]))
    for loc in p["location"]:
        if loc["mapping_id"] > len(p["mapping"]):
            errs.append("location %d: mapping %d does not exist" % (loc["id"], loc["mapping_id"]))
        for ln in loc["line"]:
            if ln["function_id"] > len(p["function"]):
                errs.append("location %d: function %d does not exist"
                            % (loc["id"], ln["function_id"]))
    if p["sample"] and not p["sample_type"]:
        errs.append("samples without sample types")
    for i, s in enumerate(p["sample"]):
        if len(s["value"]) != len(p["sample_type"]):
            errs.append("sample %d has %d values for %d sample types"
                        % (i, len(s["value"]), len(p["sample_type"])))
        for lid in s["location_id"]:
            if lid == 0:
                errs.append("sample %d has a zero location id" % i)
            elif lid > len(p["location"]):
                errs.append("sample %d: location %d out of range" % (i, lid))
        for lab in s["label"]:
            if lab["key"] == 0 or lab["key"] > strs or lab["str"] > strs:
                errs.append("sample %d: label %s out of the string table" % (i, lab))
    return errs


def profile_stacks(p):
    """{(function names innermost first, labels as a frozenset): values} of a
    decoded profile, a location's inlined functions first as pprof lists them."""
    st = p["string_table"]
    fn = {f["id"]: st[f["name"]] for f in p["function"]}
    locs = {l["id"]: [fn.get(ln["function_id"], "?") for ln in l["line"]] or [""]
            for l in p["location"]}
    out = {}
    for s in p["sample"]:
        key = (tuple(name for lid in s["location_id"] for name in locs[lid]),
               frozenset((st[l["key"]], st[l["str"]]) for l in s["label"] if l["str"]))
        old = out.get(key, [0] * len(s["value"]))
        out[key] = [a + b for a, b in zip(old, s["value"])]
    return out


# ---------------------------------------------------------------- gRPC-web (Parca's API)

def pb_varint(v):
    out = b""
    while True:
        b, v = v & 0x7f, v >> 7
        if not v:
            return out + bytes([b])
        out += bytes([b | 0x80])


def pb_int(field, v):
    return pb_varint(field << 3) + pb_varint(v)


def pb_bytes(field, b):
    return pb_varint(field << 3 | 2) + pb_varint(len(b)) + b


def pb_timestamp(t):
    """google.protobuf.Timestamp of t (seconds since the epoch)."""
    ns = int(round((t % 1) * 1e9))
    return pb_int(1, int(t)) + (pb_int(2, ns) if ns else b"")


def pb_message(data):
    """{field: [values]} of a message."""
    out = {}
    for f, _, v in _fields(data):
        out.setdefault(f, []).append(v)
    return out


class GrpcError(AssertionError):
    def __init__(self, method, status, message):
        AssertionError.__init__(self, "%s: gRPC status %s: %s" % (method, status, message))
        self.status = status


def grpc_web(base, method, request, timeout=20):
    """One unary call over gRPC-web (what Parca's UI speaks): the response
    message's bytes; AssertionError with the grpc-message when it fails."""
    import urllib.request
    body = b"\x00" + len(request).to_bytes(4, "big") + request
    req = urllib.request.Request(base.rstrip("/") + "/" + method, data=body, headers={
        "Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1"})
    with urllib.request.urlopen(req, timeout=mtlib.remaining(timeout)) as resp:
        data = resp.read()
        status = resp.headers.get("grpc-status")
        message = resp.headers.get("grpc-message")
    i, msgs = 0, []
    while i + 5 <= len(data):
        flag, n = data[i], int.from_bytes(data[i + 1:i + 5], "big")
        chunk, i = data[i + 5:i + 5 + n], i + 5 + n
        if flag & 0x80:
            for line in chunk.decode("utf-8", "replace").splitlines():
                k, _, v = line.partition(":")
                if k.strip().lower() == "grpc-status":
                    status = v.strip()
                elif k.strip().lower() == "grpc-message":
                    message = v.strip()
        else:
            msgs.append(chunk)
    if status not in (None, "0"):
        raise GrpcError(method, status, message)
    return msgs[0] if msgs else b""
