# SPDX-License-Identifier: MIT
"""Python code that CPython reaches through its own shims: shims.py SECONDS.

construct() calls a class whose __init__ is Python (3.13 runs a cleanup
shim frame between them); by_key() has sorted() call key() from C (3.12
enters through a trampoline frame). A profiler shows neither shim.
"""
from groundtruth import Ledger, seconds_arg, spin, wall_clock


class Worker(object):
    def __init__(self, s):
        self.done = spin(s)


def construct(s):
    return Worker(s).done


def key(x):
    return spin(0.0002) + x


def by_key(n):
    return sorted(range(n), key=key)


def main():
    ledger = Ledger("shims")
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        ledger.timed("construct", construct, 0.005)
        ledger.timed("by_key", by_key, 25)
    ledger.write()


if __name__ == "__main__":
    main()
