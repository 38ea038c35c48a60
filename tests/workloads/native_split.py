# SPDX-License-Identifier: MIT
"""CPU split between C and Python in interleaved slices: in_c spins in C
(callback_ext.burn, 6 ms of the thread's CPU), in_python in Python
bytecode (4 ms): 60 / 40. Needs callback_ext (callback_ext.c) built into
DIR. Truth: each one's CPU, measured around the calls. Runs until it has
used SECONDS of CPU (at most ten times that of wall time), so a loaded
machine still gives a profiler enough samples of it.

usage: python native_split.py SECONDS DIR
"""
import sys

sys.path.insert(0, sys.argv[2])
import callback_ext  # noqa: E402
from groundtruth import Ledger, seconds_arg, spin, thread_cpu, wall_clock  # noqa: E402


def in_c(s):
    return callback_ext.burn(s)


def in_python(s):
    return spin(s)


def main():
    ledger = Ledger("native_split")
    seconds = seconds_arg()
    cpu_end, end = thread_cpu() + seconds, wall_clock() + 10 * seconds
    while thread_cpu() < cpu_end and wall_clock() < end:
        ledger.timed("in_c", in_c, 0.006)
        ledger.timed("in_python", in_python, 0.004)
    ledger.write()


if __name__ == "__main__":
    main()
