# SPDX-License-Identifier: MIT
"""What a workload really did, measured from inside with its own clocks.

Each workload times the functions it wants a profiler to find and, when it
ends, writes {"workload", "pid", "python", "cpu": {name: s}, "wall": {name: s},
...extra} as JSON to the path in $SPYGLASS_TRUTH (or stderr). Python 2.7 and
3.6+.
"""
from __future__ import print_function

import json
import os
import platform
import sys
import time

wall_clock = getattr(time, "perf_counter", time.time)


def thread_cpu():
    """This thread's CPU seconds where the OS tells (3.3+), else the process's."""
    if hasattr(time, "clock_gettime") and hasattr(time, "CLOCK_THREAD_CPUTIME_ID"):
        return time.clock_gettime(time.CLOCK_THREAD_CPUTIME_ID)
    return getattr(time, "process_time", None)() if hasattr(time, "process_time") else time.clock()


def spin(seconds):
    """Use `seconds` of this thread's CPU in pure Python bytecode."""
    end = thread_cpu() + seconds
    x = 0
    while thread_cpu() < end:
        for i in range(300):
            x += i * i
    return x


class Ledger(object):
    def __init__(self, name):
        self.name = name
        self.cpu = {}
        self.wall = {}
        self.extra = {}

    def timed(self, name, fn, *args):
        c0, w0 = thread_cpu(), wall_clock()
        result = fn(*args)
        self.cpu[name] = self.cpu.get(name, 0.0) + thread_cpu() - c0
        self.wall[name] = self.wall.get(name, 0.0) + wall_clock() - w0
        return result

    def write(self):
        doc = {"workload": self.name, "pid": os.getpid(), "python": platform.python_version(),
               "cpu": self.cpu, "wall": self.wall}
        doc.update(self.extra)
        text = json.dumps(doc, sort_keys=True)
        path = os.environ.get("SPYGLASS_TRUTH")
        if path:
            with open(path, "w") as f:
                f.write(text + "\n")
        else:
            print(text, file=sys.stderr)


def seconds_arg(default=3.0):
    try:
        return float(sys.argv[1])
    except (IndexError, ValueError):
        return default
