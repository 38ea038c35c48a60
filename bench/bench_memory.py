# SPDX-License-Identifier: MIT
"""record --memory benchmark: what reading the RSS at every sample costs.

Two spyglass processes attach at the same time to the same busy target
(pure-Python work at a fixed stack, so every sample walks alike), one with
--memory and one without, at RATE Hz for SECONDS, and each prints its own
CPU per sample. Running both at once gives them the same target, the same
load and the same moments of the machine; their order is swapped every
repeat. Reported: medians over REPEATS of the CPU per sample with and
without, and their difference, the cost of one pread of /proc/PID/statm
(and of giving its change to the GIL holder's row). For scale, the same
pread from Python in a loop.

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


def record(spyglass, pid, memory):
    args = [spyglass, "record", "-r", str(RATE), "-d", str(SECONDS), "-o", os.devnull,
            "-f", "collapsed", "--pid", str(pid)]
    if memory:
        args.append("--memory")
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
        plain, memory = [], []
        for k in range(REPEATS):
            order = (False, True) if k % 2 == 0 else (True, False)
            procs = {m: record(args.spyglass, target.pid, m) for m in order}
            plain.append(per_sample(procs[False]))
            memory.append(per_sample(procs[True]))
        preads = [pread_us(target.pid) for _ in range(3)]
    finally:
        target.kill()
        target.wait()
    with_m, without = statistics.median(memory), statistics.median(plain)
    print("record --memory, %d Hz, %d s, attached together to one busy target (%s), "
          "medians of %d:" % (RATE, SECONDS, args.python, REPEATS))
    print("  CPU per sample: %.1f us without --memory, %.1f us with: +%.1f us (%+.0f%%)"
          % (without, with_m, with_m - without, 100 * (with_m - without) / without))
    print("  each run: without %s; with %s" % (plain, memory))
    print("  one pread of /proc/PID/statm from Python: %.2f us (median of 3 x 100000)"
          % statistics.median(preads))


if __name__ == "__main__":
    main()
