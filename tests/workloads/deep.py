# SPDX-License-Identifier: MIT
"""DEPTH frames of descend(), then leaf() burning CPU on top: deep.py SECONDS DEPTH."""
import sys

from groundtruth import Ledger, seconds_arg, spin, wall_clock


def leaf(end):
    x = 0
    while wall_clock() < end:
        x += spin(0.005)
    return x


def descend(n, end):
    if n <= 1:
        return leaf(end)
    return descend(n - 1, end)


def main():
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    sys.setrecursionlimit(depth + 200)
    ledger = Ledger("deep")
    ledger.extra["depth"] = depth
    ledger.timed("descend", descend, depth, wall_clock() + seconds_arg())
    ledger.write()


if __name__ == "__main__":
    main()
