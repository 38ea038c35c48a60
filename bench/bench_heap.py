# SPDX-License-Identifier: MIT
"""spyglass heap benchmark: how long a census takes, and how much the target
slows while it is read, for heaps of 10^5 and 10^6 objects.

The target builds N/3 instances of a class, each with an int and a str
attribute (about N objects with their dicts, ints and strs on <=3.10; fewer
dicts on 3.11+), then does a fixed amount of pure-Python work over and over,
printing how long each round took. The slowdown is the median round during
the census over the median round just before it. On a machine with fewer
free cores than runnable processes that ratio is mostly the census taking
a core the target would have had, so each census is followed by a control:
a plain CPU-bound process that runs as long as the census did, and the
target's slowdown during it, measured the same way. What the census costs
the target beyond taking a core is the first ratio over the second. Every
figure is the median of REPEATS censuses.

Usage: python3 bench/bench_heap.py [--spyglass build/spyglass] [--python PY]
"""
from __future__ import print_function

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPEATS = 5
# The control: a CPU-bound process that runs for argv[1] seconds.
BURN = "import sys, time\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end: pass\n"
TARGET = r'''
import sys, time
class Item(object):
    def __init__(self, i):
        self.i = i * 1000003
        self.s = "item-%d" % i
items = [Item(i) for i in range(int(sys.argv[1]) // 3)]
sys.stdout.write("ready\n"); sys.stdout.flush()
while True:
    t0 = time.time()
    x = 0
    for i in range(20000):
        x += i * i
    sys.stdout.write("%f %f\n" % (t0, time.time() - t0)); sys.stdout.flush()
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spyglass", default=os.path.join(ROOT, "build", "spyglass"))
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    for n in (10 ** 5, 10 ** 6):
        target = subprocess.Popen([args.python, "-c", TARGET, str(n)], stdout=subprocess.PIPE,
                                  universal_newlines=True)
        rounds = []
        assert target.stdout.readline().strip() == "ready"

        def reader():
            for line in target.stdout:
                t0, d = line.split()
                rounds.append((float(t0), float(d)))

        threading.Thread(target=reader, daemon=True).start()
        times, slowdowns, controls, objects = [], [], [], 0

        def slowdown(start, end):
            before = [d for t0, d in rounds if start - 2 <= t0 < start]
            during = [d for t0, d in rounds if start <= t0 and t0 + d <= end]
            if before and during:
                return statistics.median(during) / statistics.median(before)
            return None

        try:
            time.sleep(2)
            for _ in range(REPEATS):
                start = time.time()
                out = subprocess.run([args.spyglass, "heap", "--pid", str(target.pid), "--json"],
                                     stdout=subprocess.PIPE, check=True).stdout
                end = time.time()
                objects = int(out.split(b'"objects":')[1].split(b",")[0])
                times.append(end - start)
                slowdowns.append(slowdown(start, end))
                time.sleep(2)
                start = time.time()
                subprocess.run([sys.executable, "-c", BURN, str(times[-1])], check=True)
                controls.append(slowdown(start, time.time()))
                time.sleep(2)
        finally:
            target.kill()
            target.wait()
        slowdowns = [x for x in slowdowns if x] or [float("nan")]
        controls = [x for x in controls if x] or [float("nan")]
        print("%s: heap of %d objects counted: census %.2f s (median of %d), target's rounds "
              "during it %.2fx as long as before, during the control %.2fx" % (
                  args.python, objects, statistics.median(times), REPEATS,
                  statistics.median(slowdowns), statistics.median(controls)))
        print("  census %s; during it %s; during the control %s" % (
            ["%.2f" % x for x in times], ["%.2f" % x for x in slowdowns],
            ["%.2f" % x for x in controls]))


if __name__ == "__main__":
    main()
