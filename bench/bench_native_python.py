# SPDX-License-Identifier: MIT
"""What record --native costs on a Python target, per CPython given, for
a stack 100 Python frames deep and for the shared native_zlib.py
(../shared/workloads/native_zlib.py; when it is absent the output says
so): profiler CPU per sample with and without --native and the share of
unmatched samples; and the target's slowdown at 100 Hz and 1 kHz, with
and without --native, against unprofiled runs in the same run.

The CPU per sample is the difference between a run of 3 x SECONDS and one
of SECONDS (as spyglass's summary reports its CPU and samples; deep.py and
native_zlib.py, launched, at 100 Hz) over the samples the longer run took
more: the steady cost, what is spent once (reading the interpreter,
loading DWARF) left out. Median of REPEATS pairs.

The slowdown is of a fixed amount of work (tests/workloads/native_fixed.py:
`deep`, 100 frames deep with a small Python function called on top, as
deep.py; `zlib`, calls of the shared native_zlib.py's squeeze()), its
size set per CPython so that it takes about WORK seconds alone: the wall
time of that work, measured by the target itself (the profiler's start-up
not counted), launched by spyglass record, over that of the work run
alone; the median of REPEATS rounds, each round running alone, without
--native and with --native one after the other (interleaved, so that a
change in the machine's load falls on all three). Machines are noisy: the
load average is printed with the figures.

Usage: python3 bench/bench_native_python.py [--spyglass build/spyglass]
       [--python PATH]... [--seconds S] [--repeats N] [--work S]
"""
import argparse
import os
import re
import statistics
import subprocess
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = os.path.join(ROOT, "tests", "workloads")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "workloads")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


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


FIXED = os.path.join(WORKLOADS, "native_fixed.py")


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def work_time(spyglass, python, work, flags, out):
    """(wall seconds of the work as the target measured it, unmatched
    samples, samples) of native_fixed.py with arguments work, launched by
    spyglass record with flags (None: alone; then no samples)."""
    cmd = [python, FIXED] + [str(a) for a in work]
    if flags is not None:
        cmd = [spyglass, "record", "-o", os.path.join(out, "w.folded")] + flags + ["--"] + cmd
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode:
        sys.exit("%s failed: %s" % (" ".join(cmd), err))
    seconds = float(proc.stdout.decode().split()[-1])
    if flags is None:
        return seconds, 0, 0
    samples = int(re.search(r"samples: (\d+)", err).group(1))
    unmatched = re.search(r"(\d+) unmatched", err)
    return seconds, int(unmatched.group(1)) if unmatched else 0, samples


def sized(spyglass, python, kind, zlib, target, out):
    """native_fixed.py's arguments for kind, sized to take about target
    seconds alone on python (from a short run)."""
    if kind == "deep":
        base, make = 5000, lambda n: ["deep", n, 100]
    else:
        base, make = 8, lambda n: ["zlib", zlib, n]
    seconds = work_time(spyglass, python, make(base), None, out)[0]
    return make(max(1, int(round(base * target / max(seconds, 1e-3)))))


def slowdown(spyglass, python, kind, zlib, args, out):
    work = sized(spyglass, python, kind, zlib, args.work, out)
    rows = []
    for rate in [100, 1000]:
        kinds = [("alone", None), ("plain", ["-r", str(rate)]),
                 ("native", ["-r", str(rate), "--native"])]
        times = {k: [] for k, _ in kinds}
        unmatched = samples = 0
        for _ in range(args.repeats):
            for k, flags in kinds:
                seconds, u, n = work_time(spyglass, python, work, flags, out)
                times[k].append(seconds)
                if k == "native":
                    unmatched, samples = unmatched + u, samples + n
        alone = statistics.median(times["alone"])
        rows.append((rate, statistics.median(times["plain"]) / alone,
                     statistics.median(times["native"]) / alone, alone,
                     1000.0 * unmatched / max(samples, 1)))
    return work, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spyglass", default=os.path.join(ROOT, "build", "spyglass"))
    ap.add_argument("--python", action="append")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", type=float, default=1.5,
                    help="seconds the slowdown's fixed work takes alone (about)")
    args = ap.parse_args()
    pythons = args.python or [p for p in (os.path.expanduser("~/.pyenv/versions/3.10.13/bin/python"),
                                          os.path.expanduser("~/.pyenv/versions/3.12.1/bin/python"))
                              if os.path.exists(p)]
    zlib = os.path.join(SHARED, "native_zlib.py")
    have_zlib = os.path.exists(zlib)
    print("started %s, load average %s" % (time.strftime("%Y-%m-%d %H:%M"), load()))
    if not have_zlib:
        print("native_zlib.py: %s not found: its rows are not measured" % zlib)
    # deep.py's depth is 100 when only its seconds are given.
    workloads = [("deep.py, depth 100", [os.path.join(WORKLOADS, "deep.py")])]
    if have_zlib:
        workloads.append(("native_zlib.py", [zlib]))
    print("\nprofiler CPU per sample (100 Hz, launched, median of %d pairs of %g s and %g s):"
          % (args.repeats, args.seconds, 3 * args.seconds))
    print("%-8s %-20s %12s %12s %14s" % ("python", "workload", "us/sample", "--native", "unmatched/1000"))
    for python in pythons:
        version = subprocess.check_output([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        for name, argv in workloads:
            plain, _ = per_sample(args.spyglass, python, argv, args.seconds, False, args.repeats)
            native, unmatched = per_sample(args.spyglass, python, argv, args.seconds, True, args.repeats)
            print("%-8s %-20s %12.1f %12.1f %14.1f" % (version.decode().strip(), name, plain, native, unmatched))
    print("load average %s" % load())
    out = tempfile.mkdtemp()
    try:
        print("\nslowdown: wall time of a fixed amount of work (native_fixed.py, measured by the "
              "target), launched, profiled / alone, median of %d interleaved rounds:" % args.repeats)
        for python in pythons:
            version = subprocess.check_output(
                [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).decode().strip()
            for kind in ["deep", "zlib"]:
                if kind == "zlib" and not have_zlib:
                    print("  %s native_zlib.py: not measured, %s not found" % (version, zlib))
                    continue
                work, rows = slowdown(args.spyglass, python, kind, zlib, args, out)
                print("  %s native_fixed.py %s:" % (version, " ".join(
                    os.path.basename(str(a)) for a in work)))
                for rate, plain, native, alone, unmatched in rows:
                    print("    %5d Hz: without --native x%.3f, with x%.3f (alone %.2f s; "
                          "--native unmatched %.1f per 1000)" % (rate, plain, native, alone, unmatched))
                print("    load average %s" % load())
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
