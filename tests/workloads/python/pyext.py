"""A Python program whose C extension allocates for it (_mtext, mtext.c).

    pyext.py [--wait] [--records N]

    use_native       N native blocks of 4096 bytes (malloc, in the extension)
    use_buffers      N bytes objects of 1000 bytes made by the extension
                     through the interpreter's API, kept in a list
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wl  # noqa: E402
import _mtext  # noqa: E402

KEPT = []


def use_native(n):
    _mtext.keep_native(n, 4096)


def use_buffers(n):
    KEPT.append(_mtext.make_buffers(n, 1000))


def main():
    args = wl.start()
    n = 200
    if args[:1] == ["--records"]:
        n = int(args[1])
    use_native(n)
    use_buffers(n)
    wl.done()


main()
