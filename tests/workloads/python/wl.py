"""The start/stop protocol of tests/workloads/wl_common.h, for Python workloads.

    python3 workload.py [--wait] [ARGS...]     (MT_WAIT=1 in the environment = --wait)

Without --wait: do the work, print "done", exit 0. With --wait: print
"ready <pid>", block until SIGUSR1, do the work, print "done", then block
until SIGTERM or SIGINT and exit 0. MT_LINGER=1: do the work at once,
print "done", then block as --wait does.

Protocol lines are written with os.write() from bytes made before the work
(the formatting allocates, at lines of this file, not the workload's). The
process leaves with os._exit(): the interpreter's finalization would free
every object, which a C workload's exit() does not do either, and the
figures checked are those of the objects the workload keeps.
"""

import os
import signal
import sys

_SIGNALS = {signal.SIGUSR1, signal.SIGTERM, signal.SIGINT}
_wait = False
_linger = False


def _say(data):
    while data:
        data = data[os.write(1, data):]


def start():
    """Parse --wait (removed from sys.argv) and, in wait mode, announce
    ourselves and block until SIGUSR1. Returns the workload's arguments."""
    global _wait, _linger
    args = sys.argv[1:]
    _wait = os.environ.get("MT_WAIT") == "1" or "--wait" in args
    _linger = os.environ.get("MT_LINGER") == "1"
    args = [a for a in args if a != "--wait"]
    if _wait or _linger:
        # Blocked, and taken with sigwait: none is lost, and no handler runs Python code.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    if _wait:
        _say(b"ready %d\n" % os.getpid())
        if signal.sigwait(_SIGNALS) != signal.SIGUSR1:
            os._exit(0)
    return args


def done():
    """Print "done"; in wait or linger mode, block until SIGTERM or SIGINT. Exits 0."""
    line = b"done\n"
    _say(line)
    if _wait or _linger:
        while signal.sigwait(_SIGNALS) == signal.SIGUSR1:
            _say(b"pong\n")
    os._exit(0)
