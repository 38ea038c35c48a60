# SPDX-License-Identifier: MIT
"""exec_other.py SECONDS PROGRAM [ARGS...]: burn SECONDS in before_exec, then exec PROGRAM
(something that is not CPython, e.g. /bin/sleep). With PROGRAM "child", exec a shell that
runs this interpreter again as its child, which burns SECONDS in after_exec."""
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
    if sys.argv[2] == "again":
        after_exec(wall_clock() + seconds)
        return
    before_exec(wall_clock() + seconds)
    sys.stdout.flush()
    if sys.argv[2] == "child":
        script = '"$0" "$1" "$2" again; exit 0'
        os.execv("/bin/sh", ["sh", "-c", script, sys.executable, __file__, str(seconds)])
    os.execv(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
