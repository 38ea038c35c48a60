# SPDX-License-Identifier: MIT
"""Stacks that change as fast as they can, in three threads: walk_churn.py SECONDS.

t_recursion recurses and calls random.randint at every level; t_exec compiles
and runs fresh code under fresh file names ("<churn N>"), freed right after;
the main thread pushes and pops frames as churn.py does. CALLERS says who
calls each of these functions, so a profiler that shows one called from
anywhere else (or a file name that is neither a real file nor <...>) read a
stack that changed under it and kept it.
"""
import random
import threading

from groundtruth import seconds_arg, wall_clock

# function -> the functions that call it (by bare name, as frame_name gives).
CALLERS = {
    "t_recursion": {"run"},
    "recurse": {"t_recursion", "recurse"},
    "randint": {"recurse"},
    "t_exec": {"run"},
    "executed": {"<module>", "executed"},
    "descend": {"churn", "descend"},
    "churn": {"main"},
    "main": {"<module>"},
}

SOURCE = """
def executed(n):
    return executed(n - 1) + 1 if n else len('%s')


executed(%d)
"""


def recurse(n):
    x = random.randint(0, 9)
    return recurse(n - 1) + x if n else x


def t_recursion(end):
    while wall_clock() < end:
        for depth in range(1, 30):
            recurse(depth)


def t_exec(end):
    i = 0
    while wall_clock() < end:
        i += 1
        exec(compile(SOURCE % ("x" * (i % 64), i % 20), "<churn %d>" % i, "exec"), {})


def descend(n):
    return descend(n - 1) + 1 if n else 0


def churn(end):
    while wall_clock() < end:
        for depth in range(1, 24):
            descend(depth)


def main():
    end = wall_clock() + seconds_arg()
    threads = [threading.Thread(target=f, args=(end,)) for f in (t_recursion, t_exec)]
    for t in threads:
        t.start()
    churn(end)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
