# SPDX-License-Identifier: MIT
"""churn and steady share the CPU 50 / 50; churn pushes and pops frames all the time.

A profiler that drops the walks torn by a changing stack, instead of walking
again, shows churn below its share.
"""
from groundtruth import Ledger, seconds_arg, spin, thread_cpu, wall_clock


def descend(n):
    return descend(n - 1) + 1 if n else 0


def churn(s):
    end = thread_cpu() + s
    total = 0
    while thread_cpu() < end:
        for depth in range(1, 24):
            total += descend(depth)
    return total


def steady(s):
    return spin(s)


def main():
    ledger = Ledger("churn")
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        ledger.timed("churn", churn, 0.010)
        ledger.timed("steady", steady, 0.010)
    ledger.write()


if __name__ == "__main__":
    main()
