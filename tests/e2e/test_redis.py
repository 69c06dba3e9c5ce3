"""A real service nobody here wrote: redis-server (Debian's, on jemalloc),
filled with DEBUG POPULATE and emptied with FLUSHALL, traced from its start
(`--`) and attached to after it filled its keyspace (`-p`).

memtrace's retained memory is checked against jemalloc's own statistics as
redis reports them (INFO memory), read while nothing else happens:
  allocator_active - allocator_allocated: pages jemalloc has in use for
    blocks, less the blocks; all resident, so memtrace must see at least that;
  allocator_resident - allocator_allocated: jemalloc's ceiling for what it
    holds resident beyond the blocks (it counts every dirty page as
    resident), so memtrace must not exceed it by much.
jemalloc's decay is turned off (MALLOC_CONF) so that it does not purge
between the two reads. Also: comm is the process's own, probes on malloc
and free are not single-stepped, nothing is lost, redis keeps serving."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import mtlib
from mtlib import Checks

KEYS = 20000
REDIS_ENV = dict(os.environ, MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1")


class Redis:
    def __init__(self, tmp):
        self.server = mtlib.require("redis-server", "redis-server")
        self.cli = mtlib.require("redis-cli", "redis-tools")
        self.sock = os.path.join(tmp, "redis.sock")
        self.argv = [self.server, "--port", "0", "--unixsocket", self.sock, "--save", "",
                     "--appendonly", "no", "--dir", tmp, "--enable-debug-command", "local"]

    def call(self, *args, timeout=120):
        r = subprocess.run([self.cli, "-s", self.sock] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=mtlib.remaining(timeout))
        if r.returncode != 0 or r.stdout.startswith("ERR"):
            raise AssertionError("redis-cli %s: %s%s" % (" ".join(map(str, args)), r.stdout,
                                                         r.stderr))
        return r.stdout

    def wait_ready(self, timeout=30):
        end = time.monotonic() + mtlib.remaining(timeout)
        while time.monotonic() < end:
            if os.path.exists(self.sock):
                r = subprocess.run([self.cli, "-s", self.sock, "PING"], capture_output=True,
                                   text=True)
                if r.stdout.strip() == "PONG":
                    return
            time.sleep(0.1)
        raise AssertionError("redis-server did not answer PING within %d s" % timeout)

    def memory(self):
        info = {}
        for line in self.call("INFO", "memory").splitlines():
            k, _, v = line.strip().partition(":")
            if v.isdigit():
                info[k] = int(v)
        return info


def flush_and_stop(redis, mt, run):
    """FLUSHALL, jemalloc's figures read, then memtrace stopped (SIGINT):
    its last look follows the read with nothing in between."""
    redis.call("FLUSHALL")
    info = redis.memory()
    mt.signal(signal.SIGINT)
    run.mt_status = mt.wait(60, "after SIGINT")
    run.mt_stderr = mt.text("stderr")
    if run.mt_status != 0:
        raise AssertionError("memtrace exited %s" % run.mt_status)
    return info


def check(run, redis_pid, info, cmd_mode):
    rep = run.report
    proc = mtlib.find_process(rep, pid=redis_pid)
    c = Checks()
    c.eq(rep.get("lost_events"), 0, "lost_events")
    c.eq(proc.get("comm"), "redis-server", "comm (/proc/PID/comm, not the link's target)")
    c.eq(proc.get("allocator"), "jemalloc", "allocator")
    probes = {p.get("function"): p for p in rep.get("probes") or []
              if "jemalloc" in (p.get("path") or "")}
    for fn in ("malloc", "free"):
        c.eq((probes.get(fn) or {}).get("single_stepped"), False, fn + " single-stepped")
    vm = proc.get("vm") or {}
    retained = vm.get("retained_bytes")
    low = info["allocator_active"] - info["allocator_allocated"]
    high = info["allocator_resident"] - info["allocator_allocated"]
    c.true(isinstance(retained, int) and low <= retained <= high * 1.1,
           "vm.retained_bytes %r not within jemalloc's active-allocated %d and "
           "resident-allocated %d (+10%%)" % (retained, low, high))
    c.eq(vm.get("retained_upper_bound"), not cmd_mode, "retained_upper_bound")
    c.finish("jemalloc (INFO memory): %s; memtrace vm: %s"
             % ({k: v for k, v in info.items() if k.startswith("allocator_")}, vm))


@mtlib.timeout(240)
def test_redis_command():
    """memtrace -- redis-server: POPULATE, FLUSHALL, then retained against jemalloc's."""
    tmp = tempfile.mkdtemp(prefix="mt-e2e-redis-")
    mt = None
    try:
        redis = Redis(tmp)
        argv = [mtlib.memtrace_path(), "--batch", "-i", "1000", "--json",
                os.path.join(tmp, "report.json"), "--"] + redis.argv
        mt = mtlib.Proc(argv, env=REDIS_ENV, name="memtrace")
        run = mtlib.Run(argv, tmp)
        redis.wait_ready(60)
        redis.call("DEBUG", "POPULATE", KEYS, "key", 512)
        if int(redis.call("DBSIZE").strip()) != KEYS:
            raise AssertionError("DBSIZE is not %d after POPULATE" % KEYS)
        info = flush_and_stop(redis, mt, run)
        mtlib._load_outputs(run, folded=False)
        procs = [p for p in run.report.get("processes") or [] if p.get("comm") == "redis-server"]
        if len(procs) != 1:
            raise AssertionError("no single redis-server process in the report: %s"
                                 % [(p.get("pid"), p.get("comm")) for p in
                                    run.report.get("processes") or []])
        check(run, procs[0]["pid"], info, True)
    finally:
        if mt:
            mt.kill()
        shutil.rmtree(tmp, ignore_errors=True)


@mtlib.timeout(240)
def test_redis_attached():
    """memtrace -p on a redis that filled its keyspace first; it serves on after."""
    tmp = tempfile.mkdtemp(prefix="mt-e2e-redis-")
    mt = srv = None
    try:
        redis = Redis(tmp)
        srv = mtlib.Proc(redis.argv, env=REDIS_ENV, name="redis-server")
        redis.wait_ready()
        redis.call("DEBUG", "POPULATE", KEYS, "key", 512)
        argv = [mtlib.memtrace_path(), "--batch", "-i", "1000", "--json",
                os.path.join(tmp, "report.json"), "-p", str(srv.pid)]
        mt = mtlib.Proc(argv, name="memtrace")
        run = mtlib.Run(argv, tmp)
        mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"), 60,
                     '"memtrace: attached" line')
        info = flush_and_stop(redis, mt, run)
        # Detached: redis serves on, unharmed.
        redis.call("SET", "after", "detach")
        if redis.call("GET", "after").strip() != "detach":
            raise AssertionError("redis does not serve after memtrace detached")
        mtlib._load_outputs(run, folded=False)
        check(run, srv.pid, info, False)
    finally:
        for p in (mt, srv):
            if p:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


@mtlib.not_asan("the figures are the point here, and 20 million traced calls take minutes")
@mtlib.timeout(420)
def test_redis_5m_keys_sampled():
    """memtrace -p on an empty redis, then DEBUG POPULATE 5000000 (~500 MB,
    20 million allocations): more blocks than the allocation map holds, so
    memtrace samples once it is 90% full, says so, and loses nothing; the
    live heap it estimates, rounded up to jemalloc's classes, is within 5%
    of what jemalloc says it handed out meanwhile (INFO's
    allocator_allocated); the three largest call sites are named; the BPF
    maps stay within their stated bound (256 MiB)."""
    tmp = tempfile.mkdtemp(prefix="mt-e2e-redis-")
    mt = srv = None
    try:
        redis = Redis(tmp)
        srv = mtlib.Proc(redis.argv, env=REDIS_ENV, name="redis-server")
        redis.wait_ready()
        before = redis.memory()["allocator_allocated"]
        argv = [mtlib.memtrace_path(), "--batch", "-i", "1000", "--json",
                os.path.join(tmp, "report.json"), "-p", str(srv.pid)]
        mt = mtlib.Proc(argv, name="memtrace")
        run = mtlib.Run(argv, tmp)
        mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"), 60,
                     '"memtrace: attached" line')
        redis.call("DEBUG", "POPULATE", 5000000, timeout=360)
        after = redis.memory()["allocator_allocated"]
        mt.signal(signal.SIGINT)
        run.mt_status = mt.wait(60, "after SIGINT")
        run.mt_stderr = mt.text("stderr")
        if run.mt_status != 0:
            raise AssertionError("memtrace exited %s" % run.mt_status)
        if redis.call("DBSIZE").strip() != "5000000":
            raise AssertionError("redis does not serve its 5 million keys after memtrace")
        mtlib._load_outputs(run, folded=False)
        rep = run.report
        proc = mtlib.find_process(rep, pid=srv.pid)
        c = Checks()
        tracking = rep.get("tracking") or {}
        c.eq((tracking.get("mode"), tracking.get("sample_rate")), ("sampled", 65536),
             "JSON: tracking mode and rate")
        c.true("90% full" in (tracking.get("why") or ""), "tracking.why: %r" % tracking.get("why"))
        c.true("memtrace: sampling allocations from now on" in run.mt_stderr,
               "the switch is said on stderr")
        c.eq(rep.get("lost_events"), 0, "lost_events")
        usable = (proc.get("heap") or {}).get("live_usable_bytes")
        grew = after - before
        c.true(isinstance(usable, int) and abs(usable - grew) <= 0.05 * grew,
               "heap.live_usable_bytes %r, jemalloc's allocator_allocated grew %d (5%%)"
               % (usable, grew))
        callers = [(s.get("frames") or [{}, {}])[1].get("function") for s in proc["stacks"][:3]]
        c.eq(callers, ["createEmbeddedStringObject", "dictAddRaw", "dictExpand"],
             "the three largest call sites, by their allocator's caller")
        kb = rep.get("kernel_bytes")
        c.true(isinstance(kb, int) and 0 < kb <= 256 << 20,
               "kernel_bytes %r within 256 MiB" % kb)
        c.finish(mtlib.describe_stacks(proc))
    finally:
        for p in (mt, srv):
            if p:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
