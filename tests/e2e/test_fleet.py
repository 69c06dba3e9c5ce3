"""memtrace --serve read by the engines a fleet runs, started by the tests
on loopback: Debian's Prometheus scraping /metrics, and Parca's server
scraping /debug/pprof/heap; each one's query API must give memtrace's own
figures (its /report.json at the same moment).

The traced program is stepleak (see test_serve): it allocates only when the
test makes it take a step, so the figures of every report between two steps
are the same, and the moment each engine saw can be matched exactly.
"""

import os
import re
import shutil
import tempfile
import time
import urllib.parse
import urllib.request
import json

import mtlib
import servelib
from mtlib import Checks
from test_serve import STEP, Setup, proc_of, started


def wait_http(url, timeout, what):
    end = time.monotonic() + mtlib.remaining(timeout)
    last = None
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError as e:
            last = e
        time.sleep(0.3)
    raise AssertionError("%s not ready within %.0f s: %s" % (what, timeout, last))


# ---------------------------------------------------------------- Prometheus

def prom_query(base, q):
    """The instant vector of PromQL q: [(labels, timestamp, value)]."""
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise AssertionError("Prometheus: %s: %s" % (q, body))
    return [(s["metric"], float(s["value"][0]), float(s["value"][1]))
            for s in body["data"]["result"]]


def same_moment(st, base, promql, from_json, what):
    """Prometheus's latest value of promql equal to from_json(memtrace's JSON
    report) read just before and just after it: the same moment. Waits for
    the scrapes to catch up; returns the value."""
    end = time.monotonic() + mtlib.remaining(30)
    seen = None
    while time.monotonic() < end:
        before = from_json(st.s.report())
        got = prom_query(base, promql)
        after = from_json(st.s.report())
        seen = (before, [v for _, _, v in got], after)
        if len(got) == 1 and before == after == got[0][2]:
            return got[0][2]
        time.sleep(0.5)
    raise AssertionError("%s: Prometheus never agreed with memtrace's JSON (last: JSON %s, "
                         "Prometheus %s, JSON %s)" % ((what,) + (seen or (None, None, None))))


@mtlib.timeout(150)
def test_fleet_prometheus():
    """Debian's prometheus scrapes memtrace --serve tracing stepleak: its
    query API gives memtrace_live_bytes for the pid equal to memtrace's JSON
    at the same moment, before and after two steps, and the leak's stack as a
    series of its own; the target is up with no scrape error."""
    prom = mtlib.require("prometheus", "prometheus")
    st = Setup(interval="0.5")
    tmp = tempfile.mkdtemp(prefix="mt-prom-")
    p = None
    c = Checks()
    try:
        port = servelib.free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: memtrace\n    static_configs:\n"
                    "      - targets: ['%s:%d']\n" % (st.s.host, st.s.port))
        p = mtlib.Proc([prom, "--config.file=" + config, "--storage.tsdb.path=" +
                        os.path.join(tmp, "data"), "--web.listen-address=127.0.0.1:%d" % port,
                        "--log.level=warn"], name="prometheus")
        base = "http://127.0.0.1:%d" % port
        wait_http(base + "/-/ready", 30, "prometheus")
        pid = st.wl.pid

        def live(rep):
            return proc_of(rep, pid)["heap"]["live_bytes"]

        promql = 'memtrace_live_bytes{job="memtrace",pid="%d"}' % pid
        c.eq(same_moment(st, base, promql, live, "before the steps"), 24000,
             "memtrace_live_bytes before the steps")
        st.step()
        st.step()
        st.s.wait_report(started(pid, 2), 10, "two steps")
        c.eq(same_moment(st, base, promql, live, "after two steps"), 24000 + 2 * STEP[0],
             "memtrace_live_bytes after two steps")
        stack = prom_query(base, 'memtrace_stack_live_bytes{pid="%d",top_frame="leak_step"}'
                           % pid)
        c.eq([v for _, _, v in stack], [2 * STEP[0]], "leak_step's series")
        up = prom_query(base, 'up{job="memtrace"}')
        c.eq([v for _, _, v in up], [1.0], "up")
        with urllib.request.urlopen(base + "/api/v1/targets", timeout=10) as r:
            targets = json.load(r)["data"]["activeTargets"]
        c.eq([(t["health"], t["lastError"]) for t in targets], [("up", "")], "the target")
        c.finish()
    finally:
        if p:
            p.kill()
        st.close()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- Parca

def parca_binary():
    """Parca's server as make test builds it (tests/build-parca.sh), beside the workloads."""
    out = os.path.dirname(os.path.abspath(mtlib.config.workloads))
    path = os.path.join(out, "parca", "bin", "parca")
    if not os.access(path, os.X_OK):
        log = os.path.join(out, "parca", "build.log")
        tail = ""
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                tail = " ".join(f.read().splitlines()[-3:])
        raise AssertionError("Parca is not built (%s; make test builds it with "
                             "tests/build-parca.sh)%s" % (path, ": " + tail if tail else ""))
    return path


QUERY = "parca.query.v1alpha1.QueryService/"
INUSE = "memory:inuse_space:bytes:space:bytes:delta"


def parca_range(base, query, start, end):
    """QueryRange: [(timestamp s, value)] of the one series of query; [] when
    Parca has none (its NotFound)."""
    req = (servelib.pb_bytes(1, query.encode()) + servelib.pb_bytes(2, servelib.pb_timestamp(start))
           + servelib.pb_bytes(3, servelib.pb_timestamp(end))
           + servelib.pb_bytes(5, servelib.pb_int(1, 1)))
    try:
        resp = servelib.pb_message(servelib.grpc_web(base, QUERY + "QueryRange", req))
    except servelib.GrpcError as e:
        if e.status == "5":
            return []
        raise
    out = []
    for series in resp.get(1, []):
        for sample in servelib.pb_message(series).get(2, []):
            s = servelib.pb_message(sample)
            t = servelib.pb_message(s[1][0]) if 1 in s else {}
            out.append((t.get(1, [0])[0] + t.get(2, [0])[0] / 1e9, s.get(2, [0])[0]))
    return sorted(out)


def parca_profile(base, query, start, end):
    """The profiles of query between start and end, merged, as a decoded pprof."""
    merge = (servelib.pb_bytes(1, query.encode()) + servelib.pb_bytes(2, servelib.pb_timestamp(start))
             + servelib.pb_bytes(3, servelib.pb_timestamp(end)))
    req = servelib.pb_int(1, 2) + servelib.pb_bytes(3, merge) + servelib.pb_int(5, 1)
    resp = servelib.pb_message(servelib.grpc_web(base, QUERY + "Query", req))
    return servelib.decode_profile(resp[6][0]) if 6 in resp else None


@mtlib.timeout(150)
def test_fleet_parca():
    """Parca's server scrapes /debug/pprof/heap (memory profile only, the
    other Go profile types off, as the README's config): the profile passes
    Parca's validation rules, and Parca's query API gives the leak's stack
    (leak_step <- on_step <- main) with its live bytes, and leak_start's,
    filtered by the comm label memtrace puts on every sample."""
    st = Setup(interval="0.5")
    c = Checks()
    _, body = st.s.get_ok("/debug/pprof/heap")
    c.eq(servelib.parca_rules(servelib.decode_profile(body)), [], "Parca's rules")
    tmp = tempfile.mkdtemp(prefix="mt-parca-")
    p = None
    try:
        parca = parca_binary()
        st.step()
        st.step()
        st.s.wait_report(started(st.wl.pid, 2), 10, "two steps")
        port = servelib.free_port()
        config = os.path.join(tmp, "parca.yaml")
        with open(config, "w") as f:
            f.write("object_storage:\n  bucket:\n    type: FILESYSTEM\n    config:\n"
                    "      directory: %s\n" % os.path.join(tmp, "objects") +
                    "scrape_configs:\n  - job_name: memtrace\n    scrape_interval: 1s\n"
                    "    static_configs:\n      - targets: ['%s:%d']\n" % (st.s.host, st.s.port) +
                    "    profiling_config:\n      pprof_config:\n"
                    "        memory:\n          enabled: true\n          path: /debug/pprof/heap\n"
                    + "".join("        %s:\n          enabled: false\n" % t
                              for t in ("block", "goroutine", "mutex", "process_cpu")))
        p = mtlib.Proc([parca, "--config-path=" + config, "--http-address=127.0.0.1:%d" % port,
                        "--storage-path=" + os.path.join(tmp, "data"),
                        "--debuginfo-cache-dir=" + os.path.join(tmp, "debuginfo"),
                        "--debuginfod-upstream-servers=", "--log-level=warn"], name="parca")
        base = "http://127.0.0.1:%d" % port
        query = INUSE + '{job="memtrace",comm="stepleak"}'
        want = 24000 + 2 * STEP[0]
        end = time.monotonic() + mtlib.remaining(60)
        points, problem = [], None
        while time.monotonic() < end:
            try:
                now = time.time()
                points = parca_range(base, query, now - 120, now + 60)
                if any(v == want for _, v in points):
                    break
            except (OSError, AssertionError) as e:
                problem = e
            time.sleep(0.5)
        hit = [t for t, v in points if v == want]
        if not c.true(hit, "Parca never had the profile with %d live bytes (points %s, last "
                      "problem %s)" % (want, points[-5:], problem)):
            c.finish()
        # One scrape, alone in a window of its second.
        t = int(hit[-1])
        prof = parca_profile(base, query, t, t + 0.999)
        stacks = {k[0][:3]: v for k, v in servelib.profile_stacks(prof).items()} if prof else {}
        c.eq(stacks.get(("leak_step", "on_step", "main")), [2 * STEP[0]],
             "Parca: leak_step's live bytes")
        c.eq(stacks.get(("leak_start", "main", "__libc_start_call_main")), [24000],
             "Parca: leak_start's live bytes")
        none = parca_range(base, INUSE + '{job="memtrace",comm="no-such-program"}',
                           time.time() - 120, time.time() + 60)
        c.eq(none, [], "Parca: a comm no sample has selects nothing")
        c.finish()
    finally:
        if p:
            p.kill()
        st.close()
        shutil.rmtree(tmp, ignore_errors=True)
