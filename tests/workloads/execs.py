# SPDX-License-Identifier: MIT
"""execs.py SECONDS: burn in before_exec, then exec a new interpreter that burns in after_exec."""
import os
import sys

from groundtruth import seconds_arg, spin, wall_clock


def before_exec(end):
    while wall_clock() < end:
        spin(0.005)


def after_exec(end):
    while wall_clock() < end:
        spin(0.005)


def main():
    seconds = seconds_arg()
    if len(sys.argv) > 2:
        after_exec(wall_clock() + seconds)
        return
    before_exec(wall_clock() + seconds)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, __file__, str(seconds), "again"])


if __name__ == "__main__":
    main()
