# SPDX-License-Identifier: MIT
"""callheavy.py ITERATIONS: a fixed amount of call-heavy work; prints its wall time.

Used to measure how much a profiler slows its target: frames are pushed and
popped constantly, which is also the hardest case for a consistent walk.
"""
from __future__ import print_function

import sys

from groundtruth import wall_clock


def add(a, b):
    return a + b


def fold(values):
    total = 0
    for v in values:
        total = add(total, v)
    return total


def work(iterations):
    chunk = list(range(10))
    total = 0
    for _ in range(iterations):
        total = add(total, fold(chunk))
    return total


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    start = wall_clock()
    work(iterations)
    print("%.6f" % (wall_clock() - start))


if __name__ == "__main__":
    main()
