# SPDX-License-Identifier: MIT
"""What profiling a native program costs: spyglass (perf_events, this
tree) against `perf record -g` and `perf record --call-graph dwarf` on the
same C program (tests/native/hot.c, built -O2 -g without frame pointers
and with them), in the same run.

For each profiler and rate (100 Hz, 1 kHz) it prints:
  - profiler CPU per sample (us): the profiler's user + system time
    (wait4), attached to the busy program, for 3 x SECONDS less that for
    SECONDS, over the samples the longer run took more: the cost of a
    sample once symbols are loaded (perf: `perf record` only; what
    `perf report` then spends per sample to unwind and name them is
    printed apart);
  - lost samples;
  - spyglass --mode wall: the same, per event (on-CPU sample or off-CPU
    stretch: each switch-out is a sample with a stack copy, and each
    stretch is unwound and named), the events counted from its summary;
  - the target's slowdown: median wall time of a fixed number of rounds
    of work, as the program measures it (launched under the profiler),
    over the same unprofiled, interleaved;
and once:
  - the floor: CPU of a bare timer wake-up on this machine (a C loop of
    clock_nanosleep at 1 kHz), the cost any timer-driven sampler pays;
  - spyglass's CPU while the target is idle (attached to a sleeping
    program), as a share of one core.
Machines are noisy: every figure is the median of REPEATS runs.

Usage: python3 bench/bench_native.py [--spyglass build/spyglass] [--quick]
       [--repeats N] [--seconds S]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOT = os.path.join(ROOT, "tests", "native", "hot.c")

FLOOR_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>
int main(int argc, char **argv)
{
	long n = atol(argv[1]), period = 1000000;
	struct timespec t;
	struct rusage ru;

	clock_gettime(CLOCK_MONOTONIC, &t);
	for (long i = 0; i < n; i++) {
		t.tv_nsec += period;
		if (t.tv_nsec >= 1000000000) {
			t.tv_nsec -= 1000000000;
			t.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("%f\n", (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	return 0;
}
"""


def build(out):
    bins = {}
    for name, flags in [("hot_nofp", ["-fomit-frame-pointer"]), ("hot_fp", ["-fno-omit-frame-pointer"])]:
        bins[name] = os.path.join(out, name)
        subprocess.check_call(["gcc", "-O2", "-g", "-pthread"] + flags + [HOT, "-o", bins[name]])
    src = os.path.join(out, "floor.c")
    with open(src, "w") as f:
        f.write(FLOOR_C)
    bins["floor"] = os.path.join(out, "floor")
    subprocess.check_call(["gcc", "-O2", src, "-o", bins["floor"]])
    return bins


def run_cpu(cmd):
    """Run cmd; its stderr and its own CPU (us), from wait4."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode("utf-8", "replace")
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = status
    return err, (ru.ru_utime + ru.ru_stime) * 1e6


def attached(cmd_for, exe, seconds, count):
    """Attach cmd_for(pid, seconds) to the busy program for seconds and
    for 3 x seconds: the CPU per sample of the difference, so that what
    is spent once (loading symbols, starting) is left out; and the longer
    run's lost samples and samples."""
    runs = []
    for secs in [seconds, 3 * seconds]:
        target = subprocess.Popen([exe, str(secs + 5)], stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            err, cpu = run_cpu(cmd_for(target.pid, secs))
        finally:
            target.kill()
            target.wait()
        samples, lost = count(err)
        runs.append((cpu, samples, lost))
    (c1, s1, _), (c2, s2, lost) = runs
    return (c2 - c1) / max(s2 - s1, 1), lost, s2


def spyglass_attached(spyglass, exe, rate, seconds, out):
    def cmd(pid, secs):
        return [spyglass, "record", "-r", str(rate), "-d", str(secs), "-o", out, "--pid", str(pid)]

    def count(err):
        return (int(re.search(r"samples: (\d+)", err).group(1)),
                int(re.search(r"buffers full (\d+)", err).group(1)))

    return attached(cmd, exe, seconds, count)


def spyglass_wall_attached(spyglass, exe, rate, seconds, out):
    """As spyglass_attached in wall mode; samples are events: on-CPU
    samples (CPU sampled x rate) and off-CPU stretches."""
    def cmd(pid, secs):
        return [spyglass, "record", "--mode", "wall", "-r", str(rate), "-d", str(secs), "-o", out,
                "--pid", str(pid)]

    def count(err):
        on = float(re.search(r"([\d.]+) s of CPU sampled", err).group(1)) * rate
        return (int(on) + int(re.search(r"in (\d+) stretches", err).group(1)),
                int(re.search(r"buffers full (\d+)", err).group(1)))

    return attached(cmd, exe, seconds, count)


def perf_attached(exe, rate, seconds, data, callgraph):
    def cmd(pid, secs):
        return (["perf", "record", "-q", "-e", "cpu-clock", "-c", str(10 ** 9 // rate)] + callgraph
                + ["-o", data, "-p", str(pid), "--", "sleep", str(secs)])

    def count(err):
        stats = subprocess.run(["perf", "report", "-i", data, "--stats"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL).stdout.decode()
        m = re.search(r"SAMPLE events:\s+(\d+)", stats)
        lost = re.search(r"LOST events:\s+(\d+)", stats)
        return int(m.group(1)) if m else 0, int(lost.group(1)) if lost else 0

    per_sample, lost, samples = attached(cmd, exe, seconds, count)
    _, report_cpu = run_cpu(["perf", "report", "-i", data, "--stdio", "--no-children"])
    return per_sample, lost, samples, report_cpu / max(samples, 1)


def work_time(cmd, truth):
    """The wall time the program's own work took (it measures it)."""
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env=dict(os.environ, SPYGLASS_TRUTH=truth))
    with open(truth) as f:
        return json.load(f)["wall_s"]


def slowdowns(variants, repeats, truth):
    """Median work time of each variant over the bare one, interleaved."""
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, cmd in variants.items():
            times[name].append(work_time(cmd, truth))
    bare = statistics.median(times["bare"])
    return {name: statistics.median(t) / bare for name, t in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spyglass", default=os.path.join(ROOT, "build", "spyglass"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    seconds = 2 if args.quick else args.seconds
    rounds = "1000" if args.quick else "3000"
    have_perf = shutil.which("perf") is not None
    out = tempfile.mkdtemp(prefix="spyglass-bench-native-")
    try:
        bins = build(out)
        prof, data = os.path.join(out, "p.folded"), os.path.join(out, "perf.data")
        floor = statistics.median(
            float(subprocess.check_output([bins["floor"], "2000"]).decode()) / 2000 for _ in range(repeats))
        print("floor: a bare timer wake-up at 1 kHz costs %.1f us of CPU" % floor)

        idle = subprocess.Popen(["sleep", str(seconds + 5)])
        try:
            time.sleep(0.2)
            _, cpu = run_cpu([args.spyglass, "record", "-d", str(seconds), "-o", prof,
                              "--pid", str(idle.pid)])
        finally:
            idle.kill()
            idle.wait()
        print("spyglass attached to an idle program: %.3f%% of one core" % (cpu / 1e4 / seconds))

        print("\n%-26s %-8s %6s %14s %12s %6s %12s" % (
            "profiler", "binary", "rate", "CPU/sample", "report/smp", "lost", "samples"))
        for exe in ["hot_nofp", "hot_fp"]:
            for rate in [100, 1000]:
                rows = [spyglass_attached(args.spyglass, bins[exe], rate, seconds, prof)
                        for _ in range(repeats)]
                print("%-26s %-8s %6d %11.1f us %12s %6d %12d" % (
                    "spyglass", exe, rate, statistics.median(r[0] for r in rows), "-",
                    statistics.median(r[1] for r in rows), statistics.median(r[2] for r in rows)))
                if exe == "hot_nofp":
                    rows = [spyglass_wall_attached(args.spyglass, bins[exe], rate, seconds, prof)
                            for _ in range(repeats)]
                    print("%-26s %-8s %6d %11.1f us %12s %6d %12d" % (
                        "spyglass --mode wall", exe, rate, statistics.median(r[0] for r in rows),
                        "-", statistics.median(r[1] for r in rows),
                        statistics.median(r[2] for r in rows)))
                for label, cg in [("perf record -g", ["-g"]),
                                  ("perf record --call-graph dwarf", ["--call-graph", "dwarf"])]:
                    if not have_perf:
                        continue
                    rows = [perf_attached(bins[exe], rate, seconds, data, cg) for _ in range(repeats)]
                    print("%-26s %-8s %6d %11.1f us %9.1f us %6d %12d" % (
                        label, exe, rate, statistics.median(r[0] for r in rows),
                        statistics.median(r[3] for r in rows), statistics.median(r[1] for r in rows),
                        statistics.median(r[2] for r in rows)))

        print("\nslowdown of %s rounds of hot_nofp (wall time, profiled / bare, median of %d):"
              % (rounds, repeats))
        job = [bins["hot_nofp"], "0", rounds]
        for rate in [100, 1000]:
            variants = {"bare": job,
                        "spyglass": [args.spyglass, "record", "-r", str(rate), "-o", prof, "--"] + job}
            if have_perf:
                period = str(10 ** 9 // rate)
                variants["perf -g"] = ["perf", "record", "-q", "-e", "cpu-clock", "-c", period, "-g",
                                       "-o", data, "--"] + job
                variants["perf dwarf"] = ["perf", "record", "-q", "-e", "cpu-clock", "-c", period,
                                          "--call-graph", "dwarf", "-o", data, "--"] + job
            ratios = slowdowns(variants, repeats, os.path.join(out, "truth.json"))
            print("  %5d Hz: " % rate + ", ".join(
                "%s x%.3f" % (name, r) for name, r in ratios.items() if name != "bare"))
        if not have_perf:
            print("perf not found (Debian: linux-perf): its figures are left out")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
