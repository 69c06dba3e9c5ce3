"""The fuzz harnesses (tests/fuzz/), briefly: `make fuzz-smoke` builds
them, replays every input of tests/fuzz/regressions/ and fuzzes each parser
for a few seconds. Fails if any harness finds a crash, a leak, a hang or a
sanitizer report."""

import os
import subprocess
import tempfile

import mtlib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def have_libfuzzer(clang):
    """clang can build and link a libFuzzer program with the sanitizers."""
    with tempfile.TemporaryDirectory(prefix="mt-fuzz-check-") as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("#include <stddef.h>\n#include <stdint.h>\n"
                    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                    " { (void)d; (void)n; return 0; }\n")
        r = subprocess.run([clang, "-fsanitize=fuzzer,address,undefined", src,
                            "-o", os.path.join(tmp, "t")],
                           capture_output=True, text=True, timeout=60)
        return r.returncode == 0


@mtlib.not_asan("memtrace is not run: the harnesses are built with the sanitizers already")
@mtlib.timeout(180)
def test_fuzz_smoke():
    clang = mtlib.require("clang", "clang")
    make = mtlib.require("make", "make")
    if not have_libfuzzer(clang):
        raise AssertionError("clang cannot link a libFuzzer program (-fsanitize=fuzzer): "
                             "libclang-rt-14-dev, which tests/install-deps.sh installs, is missing")
    # The runner is given $(OUTPUT)/tests: build and fuzz in that $(OUTPUT).
    output = os.path.dirname(mtlib.config.workloads)
    argv = [make, "-C", REPO, "--no-print-directory", "OUTPUT=" + output, "fuzz-smoke"]
    p = mtlib.Proc(argv, name="make fuzz-smoke")
    try:
        status = p.wait(170, "make fuzz-smoke")
    finally:
        out, err = p.text("stdout"), p.text("stderr")
        p.kill()
    summary = [l.strip() for l in out.splitlines()
               if l.strip().startswith(("OK ", "FAILED ", "SKIP ", "fuzz:"))]
    for line in summary:
        if line.startswith(("SKIP ", "fuzz:")):
            mtlib.note(line)
    if status != 0:
        raise AssertionError("make fuzz-smoke exited %s\n%s" % (
            status, "\n".join((out + "\n" + err).strip().splitlines()[-40:])))
