# SPDX-License-Identifier: MIT
"""record --memory benchmark: what reading the RSS at every sample costs.

Three spyglass processes attach at the same time to the same busy target
(pure-Python work at a fixed stack, so every sample walks alike), at RATE
Hz for SECONDS, and each prints its own CPU per sample: one with --memory,
which in cpu mode samples on the timer (README, Clocks), one without it on
the timer too (--clock timer), and one without it on the default CPU
clock. Running them at once gives them the same target, the same load and
the same moments of the machine; their order turns every repeat. Reported:
medians over REPEATS of the CPU per sample of each. --memory against the
timer without it is the cost of one pread of /proc/PID/statm (and of
giving its change to the GIL holder's row); the timer against the CPU
clock is what --memory's change of clock costs. For scale, the same pread
from Python in a loop.

Usage: python3 bench/bench_memory.py [--spyglass build/spyglass] [--python PY]
"""
from __future__ import print_function

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPEATS = 5
RATE = 1000
SECONDS = 5
TARGET = r'''
import sys
def f(n):
    if n:
        return f(n - 1)
    x = 0
    while True:
        for i in range(1000):
            x += i * i
sys.stdout.write("ready\n"); sys.stdout.flush()
f(20)
'''
PER_SAMPLE = re.compile(r"profiler CPU: [\d.]+% of one core, ([\d.]+) us per sample")


# What each of the three adds to record's arguments.
RUNS = (("CPU clock", ["--clock", "cpu"]), ("timer", ["--clock", "timer"]),
        ("timer + --memory", ["--memory"]))


def record(spyglass, pid, extra):
    args = [spyglass, "record", "-r", str(RATE), "-d", str(SECONDS), "-o", os.devnull,
            "-f", "collapsed", "--pid", str(pid)] + extra
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            universal_newlines=True)


def per_sample(proc):
    _, err = proc.communicate(timeout=SECONDS + 60)
    m = PER_SAMPLE.search(err)
    assert m, err
    return float(m.group(1))


def pread_us(pid, n=100000):
    fd = os.open("/proc/%d/statm" % pid, os.O_RDONLY)
    t0 = time.perf_counter()
    for _ in range(n):
        os.pread(fd, 128, 0)
    t = time.perf_counter() - t0
    os.close(fd)
    return t / n * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spyglass", default=os.path.join(ROOT, "build", "spyglass"))
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    target = subprocess.Popen([args.python, "-c", TARGET], stdout=subprocess.PIPE,
                              universal_newlines=True)
    try:
        assert target.stdout.readline().strip() == "ready"
        each = {name: [] for name, _ in RUNS}
        for k in range(REPEATS):
            order = RUNS[k % len(RUNS):] + RUNS[:k % len(RUNS)]
            procs = [(name, record(args.spyglass, target.pid, extra)) for name, extra in order]
            for name, proc in procs:
                each[name].append(per_sample(proc))
        preads = [pread_us(target.pid) for _ in range(3)]
    finally:
        target.kill()
        target.wait()
    med = {name: statistics.median(v) for name, v in each.items()}
    cpu, timer, memory = med["CPU clock"], med["timer"], med["timer + --memory"]
    print("record, %d Hz, %d s, three attached together to one busy target (%s), "
          "medians of %d:" % (RATE, SECONDS, args.python, REPEATS))
    print("  CPU per sample: %.1f us on the CPU clock, %.1f us on the timer, %.1f us on the "
          "timer with --memory" % (cpu, timer, memory))
    print("  the RSS read: %+.1f us (%+.0f%%) over the timer; --memory over the CPU clock: "
          "%+.1f us (%+.0f%%)" % (memory - timer, 100 * (memory - timer) / timer,
                                  memory - cpu, 100 * (memory - cpu) / cpu))
    for name, _ in RUNS:
        print("  %s: %s" % (name, each[name]))
    print("  one pread of /proc/PID/statm from Python: %.2f us (median of 3 x 100000)"
          % statistics.median(preads))


if __name__ == "__main__":
    main()
