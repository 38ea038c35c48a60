# SPDX-License-Identifier: MIT
"""What record --native costs on a Python target: profiler CPU per sample
with and without --native, on a stack 100 Python frames deep
(tests/workloads/deep.py) and on native_zlib.py (tests/workloads/ or
../shared/workloads), per CPython given, and the share of unmatched
samples; and the target's slowdown (wall time of callheavy.py, launched,
profiled over alone, at 100 Hz and 1 kHz, with and without --native).

The CPU per sample is the difference between a run of 3 x SECONDS and one
of SECONDS (as spyglass's summary reports its CPU and samples) over the
samples the longer run took more: the steady cost, what is spent once
(reading the interpreter, loading DWARF) left out. Every figure is the
median of REPEATS pairs; machines are noisy.

Usage: python3 bench/bench_native_python.py [--spyglass build/spyglass]
       [--python PATH]... [--seconds S] [--repeats N]
"""
import argparse
import os
import re
import statistics
import subprocess
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = os.path.join(ROOT, "tests", "workloads")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "workloads")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_pyclock import work_time  # noqa: E402


def run(spyglass, python, argv, seconds, native):
    """(CPU seconds, samples, unmatched) of one run of argv for seconds."""
    with tempfile.NamedTemporaryFile(suffix=".folded") as out:
        cmd = [spyglass, "record", "-r", "100", "-o", out.name] + (["--native"] if native else [])
        proc = subprocess.run(cmd + ["--", python] + argv + [str(seconds)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=seconds * 4 + 60)
    err = proc.stderr.decode("utf-8", "replace")
    samples = re.search(r"samples: (\d+) over ([\d.]+) s", err)
    cpu = re.search(r"profiler CPU: ([\d.]+)% of one core", err)
    if proc.returncode or not samples or not cpu:
        sys.exit("spyglass failed: %s" % err)
    unmatched = re.search(r"(\d+) unmatched", err)
    wall = float(samples.group(2))
    return float(cpu.group(1)) / 100 * wall, int(samples.group(1)), int(unmatched.group(1)) if unmatched else 0


def per_sample(spyglass, python, argv, seconds, native, repeats):
    costs, unmatched, total = [], 0, 0
    for _ in range(repeats):
        short = run(spyglass, python, argv, seconds, native)
        long_ = run(spyglass, python, argv, 3 * seconds, native)
        if long_[1] > short[1]:
            costs.append((long_[0] - short[0]) / (long_[1] - short[1]) * 1e6)
        unmatched += short[2] + long_[2]
        total += short[1] + long_[1]
    return statistics.median(costs) if costs else float("nan"), 1000.0 * unmatched / max(total, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spyglass", default=os.path.join(ROOT, "build", "spyglass"))
    ap.add_argument("--python", action="append")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    pythons = args.python or [p for p in (os.path.expanduser("~/.pyenv/versions/3.10.13/bin/python"),
                                          os.path.expanduser("~/.pyenv/versions/3.12.1/bin/python"))
                              if os.path.exists(p)]
    zlib = os.path.join(SHARED, "native_zlib.py")
    # deep.py's depth is 100 when only its seconds are given.
    workloads = [("deep.py, depth 100", [os.path.join(WORKLOADS, "deep.py")])]
    if os.path.exists(zlib):
        workloads.append(("native_zlib.py", [zlib]))
    print("%-8s %-20s %12s %12s %14s" % ("python", "workload", "us/sample", "--native", "unmatched/1000"))
    for python in pythons:
        version = subprocess.check_output([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        for name, argv in workloads:
            plain, _ = per_sample(args.spyglass, python, argv, args.seconds, False, args.repeats)
            native, unmatched = per_sample(args.spyglass, python, argv, args.seconds, True, args.repeats)
            print("%-8s %-20s %12.1f %12.1f %14.1f" % (version.decode().strip(), name, plain, native, unmatched))
    iterations = 1000000
    out = tempfile.mkdtemp()
    try:
        for python in pythons:
            print("\nslowdown of callheavy.py %d under %s (wall time, profiled / alone, median of %d):"
                  % (iterations, python, args.repeats))
            for rate in [100, 1000]:
                kinds = {"alone": None, "plain": ["-r", str(rate)],
                         "--native": ["-r", str(rate), "--native"]}
                times = {k: [] for k in kinds}
                for _ in range(args.repeats):
                    for kind, flags in kinds.items():
                        times[kind].append(work_time(args.spyglass, python, flags, iterations, out))
                alone = statistics.median(times["alone"])
                print("  %5d Hz: without --native x%.3f, with x%.3f (alone %.2f s)" % (
                    rate, statistics.median(times["plain"]) / alone,
                    statistics.median(times["--native"]) / alone, alone))
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
