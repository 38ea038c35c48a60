# SPDX-License-Identifier: MIT
"""sleeper sleeps ~60% of the wall time, burner burns the other ~40%."""
import time

from groundtruth import Ledger, seconds_arg, spin, wall_clock


def sleeper(s):
    time.sleep(s)


def burner(s):
    return spin(s)


def main():
    ledger = Ledger("wall_split")
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        ledger.timed("sleeper", sleeper, 0.030)
        ledger.timed("burner", burner, 0.020)
    ledger.write()


if __name__ == "__main__":
    main()
