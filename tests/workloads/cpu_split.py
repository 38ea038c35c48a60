# SPDX-License-Identifier: MIT
"""alpha, beta and gamma share the CPU 50 / 30 / 20, in small interleaved slices."""
import time

from groundtruth import Ledger, seconds_arg, spin, wall_clock


def alpha(s):
    return spin(s)


def beta(s):
    return spin(s)


def gamma(s):
    return spin(s)


def main():
    ledger = Ledger("cpu_split")
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        ledger.timed("alpha", alpha, 0.010)
        ledger.timed("beta", beta, 0.006)
        ledger.timed("gamma", gamma, 0.004)
    ledger.write()


if __name__ == "__main__":
    main()
