# SPDX-License-Identifier: MIT
"""alpha, beta and gamma do 5 : 3 : 2 units of the same pure-Python loop, in
interleaved calls, each in its own body (self and total are the same).

work_split.py [SECONDS [ALPHA BETA GAMMA]]: other units per call, for
variants with another split. The truth is the units each did ("work"): the
loops are the same, so their shares of the CPU are the units' shares.

Calls are short (0.5 ms at most), so that at 1 kHz a call is about one
sample: samples of one call are one event seen several times, and a diff
counts them so (its design effect), which long calls would make wide. Unlike
cpu_split.py, nothing is timed per call: clock_gettime(CLOCK_THREAD_CPUTIME_ID)
is a system call whose cost moves with the machine's load (thread_cpu's
share under spin() went from 9% to 19% between two runs at 1000 Hz here),
which would make two runs of one split differ by more than sampling noise.
"""
import sys

from groundtruth import Ledger, seconds_arg, wall_clock

UNIT = 3000  # iterations: about 0.1 ms of CPU on CPython 3.11 here


def alpha(units):
    x = 0
    for i in range(units * UNIT):
        x += i * i
    return x


def beta(units):
    x = 0
    for i in range(units * UNIT):
        x += i * i
    return x


def gamma(units):
    x = 0
    for i in range(units * UNIT):
        x += i * i
    return x


def main():
    ledger = Ledger("work_split")
    units = [int(u) for u in sys.argv[2:5]] or [5, 3, 2]
    end = wall_clock() + seconds_arg()
    rounds = 0
    while wall_clock() < end:
        alpha(units[0])
        beta(units[1])
        gamma(units[2])
        rounds += 1
    ledger.extra["work"] = {"alpha": rounds * units[0], "beta": rounds * units[1],
                            "gamma": rounds * units[2]}
    ledger.write()


if __name__ == "__main__":
    main()
