# SPDX-License-Identifier: MIT
"""phases.py SECONDS: a program whose behaviour changes halfway.

For the first SECONDS/2 it spends its CPU in `before`, then in `after`.
Truth adds "switch_unix": the wall-clock time (time.time()) of the switch,
so that a profile's windows or a query's time range can be checked
against it.
"""
import time

from groundtruth import Ledger, seconds_arg, spin, wall_clock


def before(s):
    return spin(s)


def after(s):
    return spin(s)


def main():
    ledger = Ledger("phases")
    half = seconds_arg() / 2.0
    for fn in (before, after):
        if fn is after:
            ledger.extra["switch_unix"] = time.time()
        end = wall_clock() + half
        while wall_clock() < end:
            ledger.timed(fn.__name__, fn, 0.005)
    ledger.write()


if __name__ == "__main__":
    main()
