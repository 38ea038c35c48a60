# SPDX-License-Identifier: MIT
"""A fixed amount of work, for measuring how much a profiler slows its
target (bench/bench_native_python.py); prints the wall seconds the work
took, measured inside, so the profiler's start-up is not counted.

usage: python native_fixed.py deep N [DEPTH=100]
         descend DEPTH Python frames, then N rounds of a small Python
         function (300 multiply-adds each) on top: deep.py's shape, with a
         fixed amount of work instead of a fixed time.
       python native_fixed.py zlib PATH N
         N calls of squeeze() from the native_zlib.py at PATH (the shared
         workload: zlib.compress of 1 MiB at level 9), imported unchanged.
Works on Python 2.7 and 3.6+.
"""
from __future__ import print_function

import os
import sys

from groundtruth import wall_clock as clock


def chunk():
    x = 0
    for i in range(300):
        x += i * i
    return x


def leaf(rounds):
    x = 0
    for _ in range(rounds):
        x += chunk()
    return x


def descend(n, rounds):
    if n <= 1:
        return leaf(rounds)
    return descend(n - 1, rounds)


def main():
    kind = sys.argv[1]
    if kind == "deep":
        rounds = int(sys.argv[2])
        depth = int(sys.argv[3]) if len(sys.argv) > 3 else 100
        sys.setrecursionlimit(depth + 200)
        start = clock()
        descend(depth, rounds)
    elif kind == "zlib":
        path, calls = sys.argv[2], int(sys.argv[3])
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        module = __import__(os.path.splitext(os.path.basename(path))[0])
        start = clock()
        for _ in range(calls):
            module.squeeze()
    else:
        sys.exit("usage: native_fixed.py deep N [DEPTH] | zlib PATH N")
    print("%.6f" % (clock() - start))


if __name__ == "__main__":
    main()
