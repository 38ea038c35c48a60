# SPDX-License-Identifier: MIT
"""zlib's deflate called by code that eval() runs: the evaluated
expression's frame (<module>, file "<eval>") between its caller, squeeze,
and zlib.compress's C function, in an eval call of its own.

usage: python native_eval.py SECONDS
Runs for SECONDS, and until it has used SECONDS / 2 of CPU (so that a
loaded machine still gives a profiler enough samples of it).
Expect, merged: <module>, main, squeeze, <module> (<eval>), then zlib's C
and libz above it. Works on Python 2.7 and 3.6+.
"""
import os
import sys
import time
import zlib

# Random bytes: each compression lasts tens of milliseconds.
DATA = os.urandom(1 << 16) * 4
EXPRESSION = compile("zlib.compress(DATA, 9)", "<eval>", "eval")


def more(end, cpu):
    """Whether to go on: before end (wall) or cpu (this process's CPU)."""
    times = os.times()
    return time.time() < end or times[0] + times[1] < cpu


def squeeze(until):
    namespace = {"zlib": zlib, "DATA": DATA}
    while more(*until):
        eval(EXPRESSION, namespace)


def main():
    seconds = float(sys.argv[1])
    until = (time.time() + seconds, sum(os.times()[:2]) + seconds / 2)
    squeeze(until)


if __name__ == "__main__":
    main()
