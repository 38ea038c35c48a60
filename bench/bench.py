# SPDX-License-Identifier: MIT
"""spyglass benchmark: what profiling costs, and how well it keeps its promises.

For each CPython chosen (one 3.11+, one older, when present) and each stack
depth, it prints:
  - profiler CPU per sample (us) at 1 kHz, attached to a busy target;
  - the rate delivered against the rate asked, at 1 kHz and 10 kHz;
  - the highest rate sustained (delivered >= 98% of asked);
  - peak RSS of the profiler;
  - the target's slowdown at 100 Hz and 1 kHz: median wall time of a fixed
    amount of work, profiled / unprofiled, measured in the same run;
  - attribution error: largest |share - truth| over the cpu_split functions;
  - for a long, changing, multi-threaded run (bench/changing_threads.py, 4
    threads whose stacks keep changing, wall mode, --threads, 10 kHz):
    spyglass's peak RSS and its output's size, to pprof and to collapsed.
  - mostly idle threads: attached at 100 Hz to 10, 100 and 1000 sleeping
    threads beside one busy main thread, in cpu and wall mode, the
    profiler's CPU as a share of one core, per sample, and per thread per
    tick (what looking at a thread costs, sampled or not).
Machines are noisy: every figure is the median of REPEATS runs.

Usage: python3 bench/bench.py [--quick] [--spyglass build/spyglass] [--only idle]
"""
from __future__ import print_function

import argparse
import glob
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = os.path.join(ROOT, "tests", "workloads")


def find_pythons():
    """One interpreter 3.11+ and one older, newest of each."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = {}
    for exe in glob.glob(os.path.join(root, "versions", "*", "bin", "python")) + ["/usr/bin/python3"]:
        try:
            out = subprocess.check_output([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        except (OSError, subprocess.CalledProcessError):
            continue
        found.setdefault(out.decode().strip(), exe)
    key = lambda v: tuple(int(x) for x in v.split("."))
    new = sorted((v for v in found if key(v) >= (3, 11)), key=key)
    old = sorted((v for v in found if (3, 0) <= key(v) < (3, 11)), key=key)
    chosen = []
    if new:
        chosen.append((new[-1], found[new[-1]]))
    if old:
        chosen.append((old[-1], found[old[-1]]))
    return chosen


def profiled_child(spyglass, args):
    """Run spyglass record; its summary figures, own rusage (via wait4) and output."""
    fd, path = tempfile.mkstemp(suffix=".folded")
    os.close(fd)
    errf = tempfile.TemporaryFile()
    proc = subprocess.Popen([spyglass, "record", "-o", path] + args,
                            stdout=subprocess.DEVNULL, stderr=errf)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    errf.seek(0)
    text = errf.read().decode("utf-8", "replace")
    folded = open(path).read()
    os.unlink(path)
    if status != 0:
        raise RuntimeError("spyglass failed: " + text.strip())
    m = re.search(r"samples: (\d+)", text)
    samples = int(m.group(1)) if m else 0
    m = re.search(r"achieved ([\d.]+) Hz", text)
    achieved = float(m.group(1)) if m else 0.0
    return {
        "samples": samples,
        "achieved": achieved,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_kib": usage.ru_maxrss,
        "folded": folded,
    }


def start_target(python, script, *args):
    proc = subprocess.Popen([python, os.path.join(WORKLOADS, script)] + [str(a) for a in args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # let it reach its steady state
    return proc


def attached(spyglass, python, depth, rate, seconds):
    target = start_target(python, "deep.py", seconds + 5, depth)
    try:
        return profiled_child(spyglass, ["--pid", str(target.pid), "-r", str(rate), "-d", str(seconds)])
    finally:
        target.kill()
        target.wait()


def timed_work(python, spyglass, rate, iterations):
    """Wall seconds of callheavy.py ITERATIONS, under spyglass at rate (None: alone)."""
    cmd = [python, os.path.join(WORKLOADS, "callheavy.py"), str(iterations)]
    if rate:
        fd, path = tempfile.mkstemp(suffix=".folded")
        os.close(fd)
        cmd = [spyglass, "record", "-r", str(rate), "-o", path, "--"] + cmd
    start = time.perf_counter()
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if rate:
        os.unlink(path)
    return elapsed


def attribution_error(spyglass, python, seconds):
    truth_path = tempfile.mktemp(suffix=".json")
    env = dict(os.environ, SPYGLASS_TRUTH=truth_path)
    fd, path = tempfile.mkstemp(suffix=".folded")
    os.close(fd)
    subprocess.check_call([spyglass, "record", "-r", "1000", "-o", path, "--", python,
                           os.path.join(WORKLOADS, "cpu_split.py"), str(seconds)],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    truth = json.load(open(truth_path))["cpu"]
    counts = dict.fromkeys(truth, 0)
    total = 0
    for line in open(path):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        names = set(f.split(" (")[0].split(".")[-1] for f in stack.split(";"))
        hit = [k for k in truth if k in names]
        if hit:
            total += int(n)
            for k in hit:
                counts[k] += int(n)
    os.unlink(path)
    os.unlink(truth_path)
    cpu_total = sum(truth.values())
    return max(abs(counts[k] / float(total) - truth[k] / cpu_total) for k in truth) if total else float("nan")


def long_run(spyglass, python, seconds, suffix):
    """Peak RSS (MiB) and output size (MB) of recording changing_threads.py."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    proc = subprocess.Popen([spyglass, "record", "-r", "10000", "--mode", "wall", "--threads",
                             "-o", path, "--", python,
                             os.path.join(ROOT, "bench", "changing_threads.py"), str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    size = os.path.getsize(path) / 1e6
    os.unlink(path)
    if status != 0:
        raise RuntimeError("spyglass record failed")
    return usage.ru_maxrss / 1024.0, size


def idle_threads(spyglass, python, threads, mode, seconds):
    """One run attached to `threads` sleeping threads and a busy main thread."""
    target = start_target(python, "many_threads.py", seconds + 10, threads, "busy")
    time.sleep(0.5 + threads / 1000.0)  # until they have all started
    try:
        r = profiled_child(spyglass, ["--pid", str(target.pid), "-r", "100", "--mode", mode,
                                      "-d", str(seconds)])
    finally:
        target.kill()
        target.wait()
    ticks = r["achieved"] * seconds
    return {
        "core": r["cpu_s"] / seconds,
        "per_sample_us": r["cpu_s"] * 1e6 / max(r["samples"], 1),
        "per_thread_us": r["cpu_s"] * 1e6 / max(ticks * (threads + 1), 1),
        "achieved": r["achieved"],
    }


def idle_section(spyglass, python, repeats, seconds):
    print("mostly idle threads, attached at 100 Hz (CPU: share of one core):")
    print("%-5s %8s %8s %12s %14s %9s" % ("mode", "threads", "CPU", "us/sample", "us/thread/tick",
                                           "rate"))
    for mode in ("cpu", "wall"):
        for threads in (10, 100, 1000):
            runs = [idle_threads(spyglass, python, threads, mode, seconds) for _ in range(repeats)]
            print("%-5s %8d %7.1f%% %12.1f %14.2f %6.1f Hz" % (
                mode, threads, 100 * median([r["core"] for r in runs]),
                median([r["per_sample_us"] for r in runs]),
                median([r["per_thread_us"] for r in runs]),
                median([r["achieved"] for r in runs])))


def median(values):
    return statistics.median(values)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spyglass", default=os.path.join(ROOT, "build", "spyglass"))
    ap.add_argument("--quick", action="store_true", help="fewer repeats, shorter runs")
    ap.add_argument("--only", choices=["idle"], help="only this section")
    opts = ap.parse_args()
    repeats = 1 if opts.quick else 3
    seconds = 2 if opts.quick else 4
    iterations = 300000 if opts.quick else 1000000

    print("spyglass bench: %d repeat(s), medians; machine: %d cores" % (repeats, os.cpu_count()))
    for version, python in find_pythons():
        print("\n== Python %s (%s)" % (version, python))
        idle_section(opts.spyglass, python, repeats, seconds)
        if opts.only:
            continue
        print("%-6s %12s %10s %10s %12s %9s" % ("depth", "us/sample@1k", "rate@1k", "rate@10k",
                                               "max rate", "peak RSS"))
        for depth in (20, 100, 500):
            runs = [attached(opts.spyglass, python, depth, 1000, seconds) for _ in range(repeats)]
            per_sample = median([r["cpu_s"] * 1e6 / max(r["samples"], 1) for r in runs])
            at1k = median([r["achieved"] / 1000.0 for r in runs])
            at10k = median([attached(opts.spyglass, python, depth, 10000, seconds)["achieved"] / 10000.0
                            for _ in range(repeats)])
            best = 0
            for rate in (2000, 5000, 10000, 20000, 50000, 100000):
                r = attached(opts.spyglass, python, depth, rate, 2)
                if r["achieved"] < 0.98 * rate:
                    break
                best = rate
            rss = max(r["maxrss_kib"] for r in runs)
            print("%-6d %12.1f %9.1f%% %9.1f%% %12s %7.1f MiB" % (
                depth, per_sample, 100 * at1k, 100 * at10k,
                ">= %d Hz" % best if best else "< 2000 Hz", rss / 1024.0))
        base, at100, at1000 = [], [], []
        for _ in range(repeats):
            base.append(timed_work(python, opts.spyglass, None, iterations))
            at100.append(timed_work(python, opts.spyglass, 100, iterations))
            at1000.append(timed_work(python, opts.spyglass, 1000, iterations))
        print("slowdown (profiled/unprofiled wall time, callheavy): 100 Hz x%.3f, 1 kHz x%.3f "
              "(unprofiled median %.2f s)" % (median(at100) / median(base), median(at1000) / median(base),
                                             median(base)))
        errs = [attribution_error(opts.spyglass, python, seconds) for _ in range(repeats)]
        print("attribution error (cpu_split, max |share - truth|): %.3f" % median(errs))
        long_s = 20 if opts.quick else 60
        for suffix in (".pb.gz", ".folded"):
            rss, size = long_run(opts.spyglass, python, long_s, suffix)
            print("long run (%d s, 4 changing threads, wall, --threads, 10 kHz) to %s: peak RSS "
                  "%.1f MiB, output %.1f MB" % (long_s, suffix, rss, size))


if __name__ == "__main__":
    sys.exit(main())
