# SPDX-License-Identifier: MIT
"""caller_a and caller_b both call burn, 3 : 1; own_work burns in its own body.

burn and own_work loop in their own frames (the clock they read is a C
function, no Python frame), so their self time is theirs; the ledger times
each caller, which is the truth for how burn's samples split by caller.
Slices vary at random (seeded) around 6, 2 and 4 ms, so that the loop's
cycle cannot lock in phase with the sampling period and bias the shares.
"""
import functools
import random
import time

from groundtruth import Ledger, seconds_arg, wall_clock

if hasattr(time, "clock_gettime") and hasattr(time, "CLOCK_THREAD_CPUTIME_ID"):
    cpu = functools.partial(time.clock_gettime, time.CLOCK_THREAD_CPUTIME_ID)
else:  # Python 2.7: the process's CPU, one thread here
    cpu = time.clock


def burn(seconds):
    end = cpu() + seconds
    x = 0
    while cpu() < end:
        for i in range(300):
            x += i * i
    return x


def own_work(seconds):
    end = cpu() + seconds
    x = 0
    while cpu() < end:
        for i in range(300):
            x += i * i
    return x


def caller_a(seconds):
    return burn(seconds)


def caller_b(seconds):
    return burn(seconds)


def main():
    ledger = Ledger("shared_callee")
    end = wall_clock() + seconds_arg()
    rand = random.Random(6)
    while wall_clock() < end:
        ledger.timed("caller_a", caller_a, 0.006 * rand.uniform(0.5, 1.5))
        ledger.timed("caller_b", caller_b, 0.002 * rand.uniform(0.5, 1.5))
        ledger.timed("own_work", own_work, 0.004 * rand.uniform(0.5, 1.5))
    ledger.write()


if __name__ == "__main__":
    main()
