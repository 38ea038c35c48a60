# SPDX-License-Identifier: MIT
"""What spyglass agent costs: its CPU as a share of one core and its RSS,
profiling 1, 10 and 50 Python processes that are idle-ish (four threads
that wake every 100 ms) or busy (one thread that always wants the CPU), at
the default rate and window; and how fast its store grows per process-hour.

Each process carries a marker on its command line that the agent --match-es.
CPU is the agent's utime + stime over the measured span (after the first
window's start-up), RSS its VmRSS at the end and VmHWM.

Usage: python3 bench/bench_agent.py [--spyglass build/spyglass] [--seconds 30]
                                    [--counts 1,10,50]
"""
from __future__ import print_function

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")

IDLE = """
import sys, threading, time
def nap():
    while True:
        time.sleep(0.1)
for _ in range(4):
    threading.Thread(target=nap, daemon=True).start()
nap()
"""
BUSY = """
import sys
def inner(n):
    return sum(i * i for i in range(n))
def work():
    while True:
        inner(2000)
work()
"""


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(TICK)


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":"))


def run(spyglass, python, kind, count, seconds, window):
    mark = "bench-agent-%d-%s-%d" % (os.getpid(), kind, count)
    procs = [subprocess.Popen([python, "-c", IDLE if kind == "idle" else BUSY, mark])
             for _ in range(count)]
    tmp = tempfile.mkdtemp()
    store = os.path.join(tmp, "s.db")
    try:
        time.sleep(1)
        agent = subprocess.Popen([spyglass, "agent", "--store", store, "--match", mark,
                                  "--window", str(window)], stderr=subprocess.PIPE)
        # Taken on within a second; the first probes are start-up cost.
        time.sleep(3)
        c0, t0 = cpu_s(agent.pid), time.time()
        time.sleep(seconds)
        c1, t1 = cpu_s(agent.pid), time.time()
        rss, hwm = status_kib(agent.pid, "VmRSS"), status_kib(agent.pid, "VmHWM")
        agent.terminate()
        agent.wait(timeout=60)
        size = os.path.getsize(store)
        share = 100.0 * (c1 - c0) / (t1 - t0)
        hours = count * (t1 - t0 + 3) / 3600.0
        return {
            "kind": kind, "count": count, "cpu_pct": share, "cpu_pct_per_proc": share / count,
            "rss_mib": rss / 1024.0, "hwm_mib": hwm / 1024.0,
            "store_mib_per_proc_hour": size / 1048576.0 / hours,
        }
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spyglass", default=os.path.join(ROOT, "build", "spyglass"))
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--window", type=float, default=10)
    ap.add_argument("--counts", default="1,10,50")
    args = ap.parse_args()
    print("agent at its default rate (19 Hz), --window %g, measured over %g s, %s" %
          (args.window, args.seconds, args.python))
    print("%-5s %5s %10s %14s %9s %9s %22s" % ("kind", "procs", "CPU %core", "CPU %/process",
                                              "RSS MiB", "peak MiB", "store MiB/process-hour"))
    for kind in ("idle", "busy"):
        for count in [int(c) for c in args.counts.split(",")]:
            r = run(args.spyglass, args.python, kind, count, args.seconds, args.window)
            print("%-5s %5d %10.2f %14.3f %9.1f %9.1f %22.2f" % (
                kind, count, r["cpu_pct"], r["cpu_pct_per_proc"], r["rss_mib"], r["hwm_mib"],
                r["store_mib_per_proc_hour"]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
