"""memtrace --serve: the endpoints, read by the tools that read them, with
the figures of memtrace's own JSON report; what a bad request gets; and that
no client can stall the tracing or grow memtrace's memory.

The workload is stepleak (tests/workloads/stepleak.c): at start leak_start
keeps 8 x 3000 bytes and churn allocates and frees 100 x 512; each SIGUSR1
after "done" is a step, leak_step keeping 5 x 1200 bytes more. Between steps
it allocates nothing, so every report memtrace publishes then has the same
figures for it.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import mtlib
import servelib
from mtlib import Checks
from servelib import Served, one, series
from test_profiles import json_by_path, pprof, raw_samples, top_rows

START = {  # innermost function: (live bytes, live blocks, bytes allocated, allocations)
    "leak_start": (24000, 8, 24000, 8),
    "churn": (0, 0, 51200, 100),
}
STEP = (6000, 5)    # leak_step, per step: live bytes, blocks

CONTENT_TYPES = {
    "/": "text/html; charset=utf-8",
    "/metrics": "text/plain; version=0.0.4; charset=utf-8",
    "/debug/pprof/heap": "application/octet-stream",
    "/debug/pprof/allocs": "application/octet-stream",
    "/flamegraph.svg": "image/svg+xml",
    "/report.json": "application/json",
    "/debug/pprof/": "text/html; charset=utf-8",
}


def proc_of(rep, pid):
    return next((p for p in rep.get("processes") or [] if p.get("pid") == pid), None)


def stack_figures(proc, fn):
    found = mtlib.stacks_with_innermost(proc, fn) if proc else []
    if len(found) != 1:
        return None
    s = found[0]
    return (s["live_bytes"], s["live_allocs"], s["alloc_bytes_total"], s["allocs_total"])


def started(pid, steps=0):
    """A predicate on reports: stepleak pid did its start, and `steps` steps."""
    def pred(rep):
        p = proc_of(rep, pid)
        if not p or any(stack_figures(p, fn) != v for fn, v in START.items()):
            return False
        want = (STEP[0] * steps, STEP[1] * steps, STEP[0] * steps, STEP[1] * steps)
        return steps == 0 and not mtlib.stacks_with_innermost(p, "leak_step") or \
            stack_figures(p, "leak_step") == want
    return pred


class Setup:
    """stepleak --wait, memtrace --serve -p on it, the start done."""

    def __init__(self, mt_args=(), interval="0.5"):
        self.wl = mtlib.start_workload("stepleak")
        self.steps = 0
        self.s = None
        try:
            self.s = Served(["-i", interval] + list(mt_args) + ["-p", self.wl.pid])
            self.s.mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"), 30,
                                '"memtrace: attached" line')
            self.wl.signal(signal.SIGUSR1)
            self.wl.wait_line("stdout", lambda l: l == "done", 10, '"done"')
            self.rep = self.s.wait_report(started(self.wl.pid), 20, "stepleak's start")
        except BaseException:
            self.close()
            raise

    def step(self):
        self.steps += 1
        self.wl.signal(signal.SIGUSR1)
        self.wl.wait_line("stdout", lambda l: l == "step %d" % self.steps, 10,
                          '"step %d"' % self.steps)

    def close(self):
        if self.s:
            self.s.close()
        self.wl.kill()


def pprof_env_dir():
    return tempfile.mkdtemp(prefix="mt-serve-pprof-")


# ---------------------------------------------------------------- pprof

@mtlib.timeout(120)
def test_serve_pprof():
    """go tool pprof -raw and -top read /debug/pprof/heap and /allocs: the
    stacks and figures of /report.json and of the final --json; labels pid,
    comm, exe, cgroup; mappings symbolized (no /symbol asked for) with build
    ids; allocs reads alloc_space by default; Parca's rules hold."""
    tmp = tempfile.mkdtemp(prefix="mt-serve-")
    json_path = os.path.join(tmp, "final.json")
    st = Setup(["--json", json_path])
    c = Checks()
    try:
        st.step()
        rep = st.s.wait_report(started(st.wl.pid, 1), 10, "the step")
        proc = proc_of(rep, st.wl.pid)
        want = json_by_path(proc)
        before = st.s.metrics()
        for path in ("/debug/pprof/heap", "/debug/pprof/allocs"):
            url = st.s.url.rstrip("/") + path
            raw = pprof(["-raw", url], tmp)
            types, got = raw_samples(raw)
            c.eq([t.replace("[dflt]", "") for t in types],
                 ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                  "inuse_space/bytes"], path + ": sample types")
            dflt = [t for t in types if t.endswith("[dflt]")]
            c.eq(dflt, ["inuse_space/bytes[dflt]" if path.endswith("heap") else
                        "alloc_space/bytes[dflt]"], path + ": default sample type")
            c.eq(got, want, path + ": -raw stacks and figures vs /report.json")
            mappings = raw[raw.index("Mappings"):].splitlines()[1:]
            exe = [m for m in mappings if m.split()[2:3] == [mtlib.workload("stepleak")]]
            if c.true(len(exe) == 1, path + ": one mapping of stepleak (%s)" % mappings):
                c.true(re.search(r" [0-9a-f]{40} \[FN\]\[FL\]\[LN\]\[IN\]$", exe[0]),
                       path + ": stepleak's mapping has a build id and is symbolized: "
                       + exe[0])
            index = "-sample_index=" + ("inuse_space" if path.endswith("heap") else "alloc_space")
            rows = {name: flat for name, flat, _ in
                    top_rows(pprof(["-top", index, "-unit=B", "-nodefraction=0", url], tmp))}
            c.eq(rows.get("leak_start"), 24000, path + ": -top leak_start")
            c.eq(rows.get("leak_step"), 6000, path + ": -top leak_step")
            c.eq(rows.get("churn"), None if path.endswith("heap") else 51200,
                 path + ": -top churn (allocated and freed)")
        after = st.s.metrics()
        c.eq(one(after, "memtrace_http_requests_total", code=404),
             one(before, "memtrace_http_requests_total", code=404),
             "requests answered 404 while pprof read the profiles (a /symbol request?)")

        _, body = st.s.get_ok("/debug/pprof/heap")
        prof = servelib.decode_profile(body)
        c.eq(servelib.parca_rules(prof), [], "Parca's rules")
        with open("/proc/%d/cgroup" % st.wl.pid) as f:
            cgroup = [l.split(":", 2)[2].strip() for l in f if l.startswith("0::")][0]
        labels = {frozenset(k[1]) for k in servelib.profile_stacks(prof)}
        c.eq(labels, {frozenset({("pid", str(st.wl.pid)), ("comm", "stepleak"),
                                 ("exe", mtlib.workload("stepleak")), ("cgroup", cgroup)})},
             "every sample's labels")
        strs = prof["string_table"]
        c.eq((strs[prof["period_type"]["type"]], strs[prof["period_type"]["unit"]],
              prof["period"]), ("space", "bytes", 1), "period type and period")
        st.s.stop()
        with open(json_path) as f:
            final = json.load(f)
        c.eq(json_by_path(proc_of(final, st.wl.pid)), want,
             "the final --json's stacks vs the served profile")
        c.finish()
    finally:
        st.close()
        shutil.rmtree(tmp, ignore_errors=True)


@mtlib.timeout(120)
def test_serve_delta():
    """?seconds=N: the change over the next N seconds, as net/http/pprof
    gives it: two steps taken meanwhile are the profile, nothing else; with
    ?pid= too; the duration is N."""
    st = Setup(interval="1")
    c = Checks()
    tmp = pprof_env_dir()
    try:
        for query, steps, dflt in (("?seconds=4", 2, "inuse_space"),
                                   ("?seconds=3&pid=%d" % st.wl.pid, 1, "alloc_space")):
            path = ("/debug/pprof/heap" if dflt == "inuse_space" else
                    "/debug/pprof/allocs") + query
            out = {}

            def fetch():
                t0 = time.monotonic()
                try:
                    out["resp"] = st.s.get(path, timeout=30)
                except Exception as e:
                    out["error"] = e
                out["seconds"] = time.monotonic() - t0

            t = threading.Thread(target=fetch)
            t.start()
            # The first look is taken within a fraction of a second; the last N s later.
            time.sleep(1.2)
            for _ in range(steps):
                st.step()
            t.join(mtlib.remaining(40))
            if "error" in out or "resp" not in out:
                raise AssertionError("%s: %s" % (path, out.get("error", "no answer")))
            status, headers, body = out["resp"]
            c.eq(status, 200, path + ": status")
            n = int(query.split("seconds=")[1].split("&")[0])
            c.true(n <= out["seconds"] < n + 4, "%s answered after %.1f s" % (path, out["seconds"]))
            prof = servelib.decode_profile(body)
            c.eq(servelib.parca_rules(prof), [], path + ": Parca's rules")
            got = {k[0][:3]: v for k, v in servelib.profile_stacks(prof).items()}
            want = {("leak_step", "on_step", "main"): [STEP[1] * steps, STEP[0] * steps,
                                                       STEP[1] * steps, STEP[0] * steps]}
            c.eq(got, want, path + ": the change (only the steps taken meanwhile)")
            c.true(n - 0.1 <= prof["duration_nanos"] / 1e9 <= n + 2.5,
                   "%s: duration %.2f s" % (path, prof["duration_nanos"] / 1e9))
            c.eq(prof["string_table"][prof["default_sample_type"]], dflt,
                 path + ": default sample type")
            prof_path = os.path.join(tmp, "delta.pb.gz")
            with open(prof_path, "wb") as f:
                f.write(body)
            types, raw = raw_samples(pprof(["-raw", prof_path], tmp))
            c.eq({k[:3]: v for k, v in raw.items()}, want, path + ": go tool pprof -raw")
        c.finish()
    finally:
        st.close()
        shutil.rmtree(tmp, ignore_errors=True)


@mtlib.timeout(90)
def test_serve_delta_limits():
    """At most 4 profiles over time wait at once: the fifth gets a 429 at
    once; memtrace stopping answers the waiting ones with a 503 and exits 0
    without waiting their N seconds."""
    st = Setup()
    c = Checks()
    results = []
    lock = threading.Lock()

    def fetch():
        try:
            status, headers, body = st.s.get("/debug/pprof/heap?seconds=60", timeout=40)
        except OSError as e:
            status, body = "error", repr(e).encode()
        with lock:
            results.append((time.monotonic(), status, body))

    try:
        threads = [threading.Thread(target=fetch) for _ in range(5)]
        for t in threads:
            t.start()
            time.sleep(0.3)
        end = time.monotonic() + 10
        while time.monotonic() < end and not results:
            time.sleep(0.1)
        c.eq([(s, b) for _, s, b in results],
             [(429, b"4 profiles over time are being taken already; try again later\n")],
             "the fifth profile over time")
        t0 = time.monotonic()
        st.s.stop()
        for t in threads:
            t.join(10)
        late = sorted((round(t - t0, 1), s, b) for t, s, b in results[1:])
        c.eq([(s, b) for _, s, b in late], [(503, b"memtrace is stopping\n")] * 4,
             "the four waiting when memtrace stops")
        c.true(all(t < 5 for t, _, _ in late), "answered %s s after SIGINT"
               % [t for t, _, _ in late])
        c.finish()
    finally:
        st.close()


@mtlib.timeout(90)
def test_serve_requests():
    """Each endpoint's Content-Type; bad parameters get a 400 with a
    text/plain reason; an untraced pid and an unknown path a 404; POST a 405;
    HEAD the headers only."""
    st = Setup()
    c = Checks()
    try:
        for path, ctype in CONTENT_TYPES.items():
            status, headers, body = st.s.get(path)
            c.eq((status, headers.get("content-type")), (200, ctype), "GET " + path)
            c.eq(headers.get("x-content-type-options"), "nosniff", path + ": nosniff")
            if path.startswith("/debug/pprof/") and path != "/debug/pprof/":
                c.true(body[:2] == b"\x1f\x8b", path + ": gzip")
            status, headers, body = st.s.get(path, method="HEAD")
            c.eq((status, body), (200, b""), "HEAD " + path)
        bad = {
            "/debug/pprof/heap?seconds=0": 'invalid value for "seconds"',
            "/debug/pprof/heap?seconds=-1": 'invalid value for "seconds"',
            "/debug/pprof/heap?seconds=1.5": 'invalid value for "seconds"',
            "/debug/pprof/allocs?seconds=abc": 'invalid value for "seconds"',
            "/debug/pprof/heap?seconds=3601": 'invalid value for "seconds"',
            "/debug/pprof/heap?seconds=": 'invalid value for "seconds"',
            "/debug/pprof/heap?pid=abc": "invalid pid 'abc'",
            "/debug/pprof/heap?pid=0": "invalid pid '0'",
            "/debug/pprof/heap?pid=99999999999": "invalid pid",
            "/?pid=%01x": "invalid pid '?x'",
            "/debug/pprof/heap?debug=1": "debug=1 is not supported",
        }
        for path, reason in bad.items():
            status, headers, body = st.s.get(path)
            c.eq(status, 400, path + ": status")
            c.eq(headers.get("content-type"), "text/plain; charset=utf-8", path + ": type")
            c.true(body.decode("utf-8", "replace").startswith(reason),
                   "%s: reason %r, expected it to start %r" % (path, body, reason))
        status, _, body = st.s.get("/debug/pprof/heap?pid=%d" % (st.wl.pid + 1000000))
        c.eq((status, body), (404, b"pid %d is not traced\n" % (st.wl.pid + 1000000)),
             "an untraced pid")
        status, _, body = st.s.get("/nope")
        c.eq((status, body), (404, b"no such page: /nope (see /)\n"), "an unknown path")
        status, headers, body = st.s.get("/metrics", method="POST")
        c.eq((status, headers.get("allow")), (405, "GET, HEAD"), "POST")
        status, _, body = st.s.get("/debug/pprof/heap?gc=1&pid=%d" % st.wl.pid)
        c.eq(status, 200, "gc=1 (Go's heap parameter) is accepted")
        m = st.s.metrics()
        c.eq(one(m, "memtrace_http_requests_total", code=400), len(bad), "400s counted")
        c.finish()
    finally:
        st.close()


# ---------------------------------------------------------------- metrics

@mtlib.timeout(120)
def test_serve_metrics():
    """/metrics: promtool accepts it; every per-process figure and counter
    equals /report.json's; --metrics-top bounds the stack series; a stack's
    series keeps its id from one report to the next."""
    promtool = mtlib.require("promtool", "prometheus")
    st = Setup(["--metrics-top", "1"])
    c = Checks()
    try:
        for _ in range(3):
            st.step()
        rep = st.s.wait_report(started(st.wl.pid, 3), 10, "three steps")
        headers, text = st.s.get_ok("/metrics")
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           timeout=30)
        c.eq((r.returncode, r.stdout.decode() + r.stderr.decode()), (0, ""),
             "promtool check metrics")
        m = servelib.parse_metrics(text.decode())
        proc = proc_of(rep, st.wl.pid)
        pid = st.wl.pid
        for name, value in (("memtrace_live_bytes", proc["heap"]["live_bytes"]),
                            ("memtrace_live_allocs", proc["heap"]["live_allocs"]),
                            ("memtrace_alloc_bytes_total", proc["heap"]["alloc_bytes_total"]),
                            ("memtrace_allocs_total", proc["heap"]["allocs_total"]),
                            ("memtrace_frees_total", proc["heap"]["frees_total"]),
                            ("memtrace_retained_bytes", proc["vm"]["retained_bytes"]),
                            ("memtrace_mapped_bytes", proc["vm"]["mapped_bytes"]),
                            ("memtrace_released_bytes", proc["vm"]["released_bytes"]),
                            ("memtrace_stacks", proc["stacks_total"])):
            c.eq(one(m, name, pid=pid, comm="stepleak"), value, name)
        c.eq(one(m, "memtrace_live_bytes", pid=pid), 24000 + 3 * STEP[0], "live bytes: known")
        rss = one(m, "memtrace_rss_bytes", pid=pid)
        c.true(abs(rss - proc["rss_bytes"]) <= 64 * 1024,
               "rss %d vs the JSON's %d" % (rss, proc["rss_bytes"]))
        for name, value in rep["counters"].items():
            c.eq(one(m, "memtrace_%s_total" % name), value, "counter " + name)
        c.eq(one(m, "memtrace_lost_events_total"), rep["lost_events"], "lost events")
        for name, usage in rep["maps"].items():
            c.eq(one(m, "memtrace_map_max_entries", map=name), usage["max_entries"],
                 "map %s max entries" % name)
        info = [ls for (n, ls) in m if n == "memtrace_process_info"]
        with open("/proc/%d/cgroup" % pid) as f:
            cgroup = [l.split(":", 2)[2].strip() for l in f if l.startswith("0::")][0]
        c.eq([dict(ls) for ls in info],
             [{"pid": str(pid), "comm": "stepleak", "exe": mtlib.workload("stepleak"),
               "cgroup": cgroup, "container_id": "", "runtime": "native",
               "allocator": "glibc"}], "memtrace_process_info")
        stacks = [(dict(ls), v) for (n, ls), v in m.items() if n == "memtrace_stack_live_bytes"]
        c.eq(len(stacks), 1, "--metrics-top 1: one stack series (%s)" % stacks)
        if stacks:
            labels, v = stacks[0]
            c.eq((labels.get("pid"), labels.get("top_frame"), v), (str(pid), "leak_start", 24000),
                 "the top stack series")
            c.true(re.fullmatch(r"[0-9a-f]{16}", labels.get("stack", "")),
                   "stack id %r" % labels.get("stack"))
            c.eq(series(m, "memtrace_stack_live_allocs", stack=labels.get("stack")), [8],
                 "its live blocks")
            # A later report: the same series.
            t = one(m, "memtrace_report_timestamp_seconds")
            end = time.monotonic() + 10
            while time.monotonic() < end:
                m2 = st.s.metrics()
                if one(m2, "memtrace_report_timestamp_seconds") > t:
                    break
                time.sleep(0.2)
            c.eq(series(m2, "memtrace_stack_live_bytes", stack=labels.get("stack")), [24000],
                 "the same stack id in the next report")
        c.true(one(m, "process_resident_memory_bytes") > 1 << 20, "memtrace's own RSS")
        c.finish()
    finally:
        st.close()


# ---------------------------------------------------------------- safe to leave running

def idle_connections(s, n):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection((s.host, s.port), timeout=5))
        except OSError:
            break
    return socks


@mtlib.timeout(180)
def test_serve_hostile_clients():
    """Idle and slow clients, headers over the limit, garbage and a flood of
    requests: the tracing goes on (steps taken meanwhile are in the reports,
    which keep coming), the server answers again once the idle connections
    time out, and memtrace's memory does not grow with any of it."""
    st = Setup()
    c = Checks()
    socks = []
    try:
        rss0 = st.s.rss_kb()
        # Stuck clients: connected, never a byte; slow ones: a byte a second.
        socks = idle_connections(st.s, 48)
        c.true(len(socks) >= 16, "only %d connections could be opened" % len(socks))
        slow = idle_connections(st.s, 1)
        t0 = time.monotonic()
        st.step()
        for sock in slow:
            try:
                sock.send(b"G")
            except OSError:
                pass
        # Headers over the limit, then garbage: an error or a closed connection.
        for payload in (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
                        b"\x00\x01\x02 GARBAGE \xff\r\n\r\n",
                        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"):
            try:
                with socket.create_connection((st.s.host, st.s.port), timeout=5) as sk:
                    sk.sendall(payload)
                    answer = sk.recv(100)
                    c.true(not answer.startswith(b"HTTP/1.1 200"),
                           "%r... got %r" % (payload[:20], answer))
            except OSError:
                pass    # refused (the idle ones hold the slots) or reset: both fine
        st.step()
        # The idle connections are closed after 10 s: then the server answers again.
        rep = st.s.wait_report(started(st.wl.pid, 2), 30,
                               "both steps, once the stuck connections were dropped")
        c.true(time.monotonic() - t0 < 25, "answered again %.0f s after the stuck clients came"
               % (time.monotonic() - t0))
        for sock in socks + slow:
            sock.close()
        socks = []

        # A flood: 4 clients, as fast as they can, while the program steps.
        stop = time.monotonic() + 8
        counts = {}
        lock = threading.Lock()

        def flood(paths):
            while time.monotonic() < stop:
                for p in paths:
                    try:
                        status = st.s.get(p, timeout=10)[0]
                    except OSError:
                        status = "error"
                    with lock:
                        counts[status] = counts.get(status, 0) + 1

        threads = [threading.Thread(target=flood, args=(ps,)) for ps in
                   (["/metrics"], ["/debug/pprof/heap"], ["/"], ["/report.json", "/nope"])]
        for t in threads:
            t.start()
        for _ in range(3):
            time.sleep(1.5)
            st.step()
        for t in threads:
            t.join(30)
        c.true(counts.get(200, 0) > 100, "the flood got %s" % counts)
        rep = st.s.wait_report(started(st.wl.pid, 5), 10, "the steps taken during the flood")
        c.true(rep["duration_s"] > time.monotonic() - t0 - 3,
               "the last report is recent: the main loop kept publishing")
        rss1 = st.s.rss_kb()
        if servelib.sanitized():
            mtlib.note("the sanitizer build: RSS (%d -> %d kB) not checked" % (rss0, rss1))
        else:
            c.true(rss1 - rss0 < 8 * 1024, "memtrace's RSS went from %d to %d kB" % (rss0, rss1))
        c.finish()
    finally:
        for sock in socks:
            sock.close()
        st.close()


# ---------------------------------------------------------------- addresses

def test_serve_addresses():
    """--serve: loopback unless a host is given; a bad address or a taken
    port is one error line, before anything is traced."""
    mtlib.need_root()
    c = Checks()
    for addr, why in (("127.0.0.1:99999", "invalid port (0-65535)"),
                      ("::1:80", "an IPv6 address goes in brackets: [::1]:PORT"),
                      ("[::1]", "expected PORT, HOST:PORT or [IPV6]:PORT"),
                      ("nosuchhost.invalid:80", "unknown host"),
                      ("192.0.2.1:80", "Cannot assign requested address")):
        status, out, err = mtlib.run_memtrace(["--serve", addr, "-p", str(os.getpid())])
        line = c.run(mtlib.check_single_error, status, err, "--serve " + addr, 1)
        if line:
            c.eq(line, "memtrace: cannot serve on %s: %s" % (addr, why), "--serve " + addr)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        addr = "127.0.0.1:%d" % holder.getsockname()[1]
        status, out, err = mtlib.run_memtrace(["--serve", addr, "-p", str(os.getpid())])
        line = c.run(mtlib.check_single_error, status, err, "a taken port", 1)
        if line:
            c.eq(line, "memtrace: cannot serve on %s: Address already in use" % addr,
                 "a taken port")
    finally:
        holder.close()
    # No host: loopback.
    wl = mtlib.start_workload("stepleak")
    try:
        s = Served(["-p", wl.pid], addr=str(servelib.free_port()))
        try:
            c.eq(s.host, "127.0.0.1", "--serve PORT listens on")
        finally:
            s.close()
        s = Served(["-p", wl.pid], addr=":0")
        try:
            c.eq(s.host, "127.0.0.1", "--serve :PORT listens on")
            c.eq(s.get("/metrics")[0] in (200, 503), True, "it answers")
        finally:
            s.close()
    finally:
        wl.kill()
    c.finish()


# ---------------------------------------------------------------- beside the other outputs

@mtlib.timeout(90)
def test_serve_batch_and_command():
    """--batch beside --serve: text reports on stdout as without it; in --
    mode the server serves the command, which ends memtrace as usual."""
    c = Checks()
    s = Served(["--batch", "-i", "0.5", "--", mtlib.workload("stepleak")],
               env=dict(os.environ, MT_LINGER="1"))
    try:
        rep = s.wait_report(lambda r: r.get("processes") and
                            stack_figures(r["processes"][0], "leak_start") == START["leak_start"],
                            20, "the command's start")
        pid = rep["processes"][0]["pid"]
        s.mt.wait_line("stdout", lambda l: "leak_start" in l, 10, "a text report on stdout")
        c.eq(one(s.metrics(), "memtrace_live_bytes", pid=pid), 24000, "metrics of the command")
        os.kill(pid, signal.SIGTERM)
        status = s.mt.wait(30, "after the command exited")
        s.sync()
        c.eq(status, 0, "memtrace's status: the command's")
        c.finish()
    finally:
        s.close()


@mtlib.timeout(90)
def test_serve_display():
    """The live display beside --serve: the screen shows stepleak's stacks
    while the server answers with the same figures."""
    import test_display
    test_display.need_tmux()
    wl = mtlib.start_workload("stepleak")
    scr = None
    try:
        scr = test_display.Screen(["--serve", "127.0.0.1:0", "-i", "0.5", "-p", wl.pid])
        scr.wait_attached()
        wl.signal(signal.SIGUSR1)
        wl.wait_line("stdout", lambda l: l == "done", 10, '"done"')
        scr.wait("leak_start on the screen", lambda t: "leak_start" in t)
        url = re.search(r"serving on (http://\S+)", scr.stderr()).group(1)
        m = servelib.Client(url).metrics()
        c = Checks()
        c.eq(one(m, "memtrace_live_bytes", pid=wl.pid), 24000, "metrics beside the display")
        scr.keys("q")
        status, _ = scr.wait_exit()
        c.eq(status, 0, "memtrace's exit status after q")
        c.finish()
    finally:
        if scr:
            scr.close()
        wl.kill()


@mtlib.timeout(120)
def test_serve_system_wide():
    """System-wide with --serve: a program started afterwards is on /metrics
    and ?pid= gives its profile alone."""
    mtlib.need_root()
    s = Served(["-i", "2", "--max-stacks", "262144"])
    wl = None
    try:
        s.mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"), 60,
                       '"memtrace: attached" line')
        wl = mtlib.Proc([mtlib.workload("stepleak")], env=dict(os.environ, MT_LINGER="1"),
                        name="stepleak")
        wl.wait_line("stdout", lambda l: l == "done", 30, '"done"')
        s.wait_report(started(wl.pid), 30, "stepleak in the system-wide report",
                      path="/report.json?pid=%d" % wl.pid)
        c = Checks()
        m = s.metrics()
        c.eq(one(m, "memtrace_live_bytes", pid=wl.pid), 24000, "its live bytes")
        _, body = s.get_ok("/debug/pprof/heap?pid=%d" % wl.pid)
        prof = servelib.decode_profile(body)
        stacks = servelib.profile_stacks(prof)
        c.eq({dict(k[1])["pid"] for k in stacks}, {str(wl.pid)}, "?pid=: its samples only")
        c.eq(sorted(k[0][0] for k in stacks), ["churn", "leak_start"], "its stacks")
        c.finish()
    finally:
        if wl:
            wl.kill()
        s.close()


# ---------------------------------------------------------------- the page

CHROMIUM = "/usr/bin/chromium"


@mtlib.timeout(150)
def test_serve_page_browser():
    """The page in headless chromium: it loads, its script runs and reloads
    the tables, it shows stepleak and its top stack, the flame graph loads
    (frames drawn); nothing comes from elsewhere. A screenshot is kept."""
    from test_svg import run_chromium, png_pixels
    import xml.etree.ElementTree as ET
    mtlib.require(CHROMIUM, "chromium")
    st = Setup(interval="1")
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="mt-serve-page-")
    try:
        st.step()
        st.s.wait_report(started(st.wl.pid, 1), 10, "the step")
        _, page = st.s.get_ok("/")
        html = page.decode("utf-8")
        for attr in re.findall(r'(?:src|href|data|action)="([^"]*)"', html):
            c.true(not re.match(r"^[a-z]+:|^//", attr), "a reference outside memtrace: " + attr)
        c.true("<script src" not in html and "<link" not in html, "no external script or style")
        dom, err = run_chromium(["--virtual-time-budget=6000", "--dump-dom", st.s.url], tmp,
                                timeout=60)
        c.true("Uncaught" not in err, "script errors: %s"
               % [l for l in err.splitlines() if "Uncaught" in l][:5])
        body = re.search(r"<body([^>]*)>", dom)
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1))) if body else {}
        c.eq(attrs.get("data-ready"), "1", "the page's script ran")
        c.true(attrs.get("data-refreshed"), "the tables were reloaded (data-refreshed)")
        c.true(int(attrs.get("data-flame-frames") or 0) >= 4,
               "flame graph frames drawn: %s" % attrs.get("data-flame-frames"))
        procs = re.search(r'<section id="procs">.*?</section>', dom, re.S)
        c.true(procs and ">%d</a>" % st.wl.pid in procs.group(0) and "stepleak" in procs.group(0),
               "the process list shows stepleak (pid %d)" % st.wl.pid)
        stacks = re.search(r'<section id="stacks">.*?</section>', dom, re.S)
        rows = re.findall(r"<summary>([^<]*)</summary>", stacks.group(0)) if stacks else []
        c.eq(rows[:2], ["leak_start", "leak_step"], "top stacks, by live bytes")
        _, svg = st.s.get_ok("/flamegraph.svg")
        root = ET.fromstring(svg)
        c.eq(int(root.get("data-total")), 24000 + STEP[0], "the flame graph's live bytes")

        art = servelib.artifacts_dir("serve")
        png = os.path.join(art, "page.png")
        if os.path.exists(png):
            os.unlink(png)
        run_chromium(["--screenshot=" + png, "--window-size=1280,1000",
                      "--virtual-time-budget=4000", st.s.url], tmp, timeout=60)
        if c.true(os.path.exists(png), "no screenshot written"):
            w, h, pixels = png_pixels(png)
            c.eq((w, h), (1280, 1000), "screenshot size")
            c.true(len(set(pixels)) > 64, "the screenshot looks blank")
            mtlib.note("screenshot: " + png)
        c.finish()
    finally:
        st.close()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- memory over time

@mtlib.not_asan("the sanitizer's quarantine holds freed memory by design: RSS is not flat")
@mtlib.timeout(240)
def test_serve_memory_flat():
    """memtrace --serve on a churning program (allocations and frees as fast
    as it can, two threads), scraped and profiled all along, with deltas and
    bad requests mixed in: after a warm-up, memtrace's RSS stays flat (the
    long run is `make soak`)."""
    duration = float(os.environ.get("MT_SERVE_SOAK_S", "75"))
    s = Served(["-i", "1", "--", mtlib.workload("churn"), "100000000000"])
    stop = threading.Event()
    counts = {}
    lock = threading.Lock()

    def client(paths):
        while not stop.is_set():
            for p in paths:
                try:
                    status = s.get(p, timeout=20)[0]
                except OSError:
                    status = "error"
                with lock:
                    counts[status] = counts.get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(ps,), daemon=True) for ps in
               (["/metrics", "/debug/pprof/heap", "/debug/pprof/allocs?seconds=1"],
                ["/", "/flamegraph.svg", "/report.json", "/debug/pprof/heap?pid=abc"])]
    try:
        s.wait_report(lambda r: r.get("processes"), 20, "the first report")
        for t in threads:
            t.start()
        samples = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < duration:
            time.sleep(5)
            samples.append((round(time.monotonic() - t0), s.rss_kb()))
        stop.set()
        for t in threads:
            t.join(30)
        c = Checks()
        # The first 20 s load the symbol tables and fill the caches.
        steady = [kb for t, kb in samples if t >= 20]
        c.true(len(steady) >= 5, "too few samples: %s" % samples)
        c.true(max(steady) - min(steady) <= 2048,
               "memtrace's RSS moved by %d kB after the warm-up: %s"
               % (max(steady) - min(steady), samples))
        c.true(counts.get(200, 0) > 50 and counts.get(400, 0) > 10, "requests: %s" % counts)
        rep = s.report()
        c.eq(rep["lost_events"], 0, "events lost")
        mtlib.note("RSS kB over %.0f s: %s; requests %s" % (duration, samples, counts))
        # SIGINT goes on to the command, as time(1) does: its status is memtrace's.
        s.stop(expect=128 + signal.SIGINT)
        c.finish()
    finally:
        stop.set()
        s.close()


# ---------------------------------------------------------------- Go, sampled

@mtlib.per_go
@mtlib.timeout(120)
def test_serve_go_sampled(go):
    """A Go program whose live bytes memtrace samples (1 per 16 KiB): the
    served profile keeps the rate as its period, as Go's heap profiles do,
    and its stacks and figures are /report.json's."""
    from test_goprofile import SAMPLED
    wl = mtlib.start_workload(go.w("goinuse"), env={"INUSE_ALLOC_AFTER": "1"})
    s = None
    c = Checks()
    tmp = pprof_env_dir()
    try:
        s = Served(["-i", "0.5"] + SAMPLED + ["-p", wl.pid])
        s.mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"), 30,
                       '"memtrace: attached" line')
        wl.signal(signal.SIGUSR1)
        wl.wait_line("stdout", lambda l: l == "done", 60, '"done"')

        def big_live(rep):
            p = proc_of(rep, wl.pid)
            return p and p.get("sampled") and any(
                mtlib.innermost(st) == "main.allocBig" and (st["live_bytes"] or 0) > 32 << 20
                for st in p["stacks"])

        s.wait_report(big_live, 30, "main.allocBig's sampled live bytes")
        # Figures move with the program's GCs: a profile read between two equal reports.
        for _ in range(20):
            before = json_by_path(proc_of(s.report(), wl.pid))
            _, body = s.get_ok("/debug/pprof/heap")
            after = json_by_path(proc_of(s.report(), wl.pid))
            if before == after:
                break
            time.sleep(0.5)
        prof_path = os.path.join(tmp, "go.pb.gz")
        with open(prof_path, "wb") as f:
            f.write(body)
        raw = pprof(["-raw", prof_path], tmp)
        c.true(re.search(r"^Period: 16384$", raw, re.M), "the period is the sample rate: %s"
               % re.findall(r"^Period: .*$", raw, re.M))
        types, got = raw_samples(raw)
        c.eq(got, after, "-raw stacks and figures vs /report.json")
        c.eq(servelib.parca_rules(servelib.decode_profile(body)), [], "Parca's rules")
        c.finish()
    finally:
        if s:
            s.close()
        wl.kill()
        shutil.rmtree(tmp, ignore_errors=True)


@mtlib.timeout(120)
def test_serve_native_sampled():
    """A C program whose blocks memtrace samples (--sample-rate 1024): the
    served profile's period is the rate, its stacks and figures (estimates)
    are /report.json's, the process is marked sampled on both."""
    wl = mtlib.start_workload("stepleak")
    s = None
    c = Checks()
    tmp = pprof_env_dir()
    try:
        s = Served(["-i", "0.5", "--sample-rate", "1024", "-p", wl.pid])
        s.mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"), 30,
                       '"memtrace: attached" line')
        wl.signal(signal.SIGUSR1)
        wl.wait_line("stdout", lambda l: l == "done", 10, '"done"')

        def start_seen(rep):
            p = proc_of(rep, wl.pid)
            # Allocated figures stay exact when sampled: the start's 8 blocks all seen.
            return p and any(mtlib.innermost(st) == "leak_start" and st["allocs_total"] == 8
                             for st in p["stacks"])

        rep = s.wait_report(start_seen, 20, "leak_start's 8 allocations")
        proc = proc_of(rep, wl.pid)
        c.eq((proc.get("sampled"), proc.get("sample_rate")), (True, 1024),
             "/report.json: the process is sampled at 1024")
        _, body = s.get_ok("/debug/pprof/heap")
        prof_path = os.path.join(tmp, "native.pb.gz")
        with open(prof_path, "wb") as f:
            f.write(body)
        raw = pprof(["-raw", prof_path], tmp)
        c.true(re.search(r"^Period: 1024$", raw, re.M), "the period is the sample rate: %s"
               % re.findall(r"^Period: .*$", raw, re.M))
        # stepleak allocates nothing after its start: every report has its figures.
        types, got = raw_samples(raw)
        c.eq(got, json_by_path(proc_of(s.report(), wl.pid)),
             "-raw stacks and figures vs /report.json")
        c.eq(servelib.parca_rules(servelib.decode_profile(body)), [], "Parca's rules")
        c.finish()
    finally:
        if s:
            s.close()
        wl.kill()
        shutil.rmtree(tmp, ignore_errors=True)


mtlib.for_each_go(globals())
