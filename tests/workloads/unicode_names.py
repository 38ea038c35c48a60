# -*- coding: utf-8 -*-
# SPDX-License-Identifier: MIT
"""Functions with non-ASCII names (Python 3 only): naïve_ß and 计算."""
from groundtruth import Ledger, seconds_arg, spin, wall_clock


def naïve_ß(s):
    return spin(s)


def 计算(s):
    return spin(s)


def main():
    ledger = Ledger("unicode_names")
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        ledger.timed("naïve_ß", naïve_ß, 0.005)
        ledger.timed("计算", 计算, 0.005)
    ledger.write()


if __name__ == "__main__":
    main()
