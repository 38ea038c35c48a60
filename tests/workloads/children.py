# SPDX-License-Identifier: MIT
"""children.py SECONDS N: a parent burning in parent_work and N children in child_work."""
import subprocess
import sys

from groundtruth import Ledger, seconds_arg, spin, wall_clock


def child_work(end):
    while wall_clock() < end:
        spin(0.005)


def parent_work(end):
    while wall_clock() < end:
        spin(0.005)


def main():
    seconds = seconds_arg()
    if len(sys.argv) > 3 and sys.argv[3] == "child":
        child_work(wall_clock() + seconds)
        return
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    ledger = Ledger("children")
    kids = [subprocess.Popen([sys.executable, __file__, str(seconds), "0", "child"])
            for _ in range(count)]
    ledger.extra["children"] = [k.pid for k in kids]
    ledger.timed("parent_work", parent_work, wall_clock() + seconds)
    for k in kids:
        k.wait()
    ledger.write()


if __name__ == "__main__":
    main()
