# SPDX-License-Identifier: MIT
"""cpu mode's two clocks on a Python target, in the same run: the timer
(`--clock timer`: wake every period, read each thread's /proc state, walk
the running ones) against the CPU clock (`--clock cpu`: perf_events
cpu-clock wakes spyglass when a thread has used a period of CPU, and that
thread is walked).

For each clock, depth (tests/workloads/deep.py, one busy thread) and rate it
prints the profiler's CPU per sample (us): its user + system time (wait4)
attached for 3 x SECONDS less that for SECONDS, over the samples the longer
run took more, so that start-up (reading the interpreter's ELF files) is
left out; the samples of the longer run, and those it lost (the CPU clock:
records the kernel could not write; the timer: walks dropped). Once, in
the same run:
  - the floor: CPU of a bare timer wake-up at 1 kHz (bench_native.py's C
    loop of clock_nanosleep), what any timer-driven sampler pays per tick;
  - spyglass attached to an idle Python program (time.sleep) for SECONDS,
    on each clock, as a share of one core, start-up included;
  - the target's slowdown at 100 Hz and 1 kHz on each clock: the median wall
    time of a fixed job (tests/workloads/callheavy.py, launched) profiled,
    over that of the job alone, interleaved.
Machines are noisy: every figure is the median of REPEATS runs,
interleaved clock by clock.

Usage: python3 bench/bench_pyclock.py [--spyglass build/spyglass]
       [--python /usr/bin/python3] [--quick] [--repeats N] [--seconds S]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_native import FLOOR_C, attached, run_cpu  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEEP = os.path.join(ROOT, "tests", "workloads", "deep.py")
CLOCKS = ["timer", "cpu"]


def floor_us(out, repeats):
    src, exe = os.path.join(out, "floor.c"), os.path.join(out, "floor")
    with open(src, "w") as f:
        f.write(FLOOR_C)
    subprocess.check_call(["gcc", "-O2", src, "-o", exe])
    return statistics.median(float(subprocess.check_output([exe, "2000"]).decode()) / 2000
                             for _ in range(repeats))


def per_sample(spyglass, python, clock, depth, rate, seconds, out):
    """(CPU per sample in us, samples) attached to deep.py at depth."""
    script = os.path.join(out, "deep-%d.sh" % depth)
    with open(script, "w") as f:
        # attached() runs "EXE SECONDS": a wrapper that execs the workload.
        f.write('#!/bin/sh\nexec %s %s "$1" %d\n' % (python, DEEP, depth))
    os.chmod(script, 0o755)

    def cmd(pid, secs):
        return [spyglass, "record", "--clock", clock, "-r", str(rate), "-d", str(secs),
                "-o", os.path.join(out, "p.folded"), "--pid", str(pid)]

    def count(err):
        if clock == "cpu":
            assert "CPU clock" in err, err
        lost = re.search(r"lost by the kernel: (\d+)" if clock == "cpu" else r"dropped: (\d+)",
                         err)
        return int(re.search(r"samples: (\d+)", err).group(1)), int(lost.group(1)) if lost else 0

    cpu, lost, samples = attached(cmd, script, seconds, count)
    return cpu, samples, lost


def work_time(spyglass, python, flags, iterations, out):
    """Wall seconds of callheavy.py ITERATIONS, launched by spyglass record
    with flags (None: alone)."""
    cmd = [python, os.path.join(ROOT, "tests", "workloads", "callheavy.py"), str(iterations)]
    if flags is not None:
        cmd = [spyglass, "record", "-o", os.path.join(out, "w.folded")] + flags + ["--"] + cmd
    start = time.perf_counter()
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def idle_share(spyglass, python, clock, seconds, out):
    idle = subprocess.Popen([python, "-c", "import time; time.sleep(%f)" % (seconds + 5)])
    try:
        time.sleep(0.5)
        _, cpu = run_cpu([spyglass, "record", "--clock", clock, "-d", str(seconds),
                          "-o", os.path.join(out, "idle.folded"), "--pid", str(idle.pid)])
    finally:
        idle.kill()
        idle.wait()
    return cpu / 1e4 / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spyglass", default=os.path.join(ROOT, "build", "spyglass"))
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4)
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    seconds = 2 if args.quick else args.seconds
    out = tempfile.mkdtemp(prefix="spyglass-bench-pyclock-")
    try:
        print("floor: a bare timer wake-up at 1 kHz costs %.1f us of CPU" % floor_us(out, repeats))
        idle = {c: [] for c in CLOCKS}
        for _ in range(repeats):
            for clock in CLOCKS:
                idle[clock].append(idle_share(args.spyglass, args.python, clock, seconds, out))
        for clock in CLOCKS:
            print("spyglass --clock %-5s attached to an idle Python program: %.3f%% of one core"
                  % (clock, statistics.median(idle[clock])))
        print("\n%-6s %6s %6s %14s %10s %6s" % ("clock", "depth", "rate", "CPU/sample", "samples",
                                                "lost"))
        for depth in [20, 100]:
            for rate in [100, 1000]:
                rows = {c: [] for c in CLOCKS}
                for _ in range(repeats):
                    for clock in CLOCKS:
                        rows[clock].append(per_sample(args.spyglass, args.python, clock, depth,
                                                      rate, seconds, out))
                for clock in CLOCKS:
                    print("%-6s %6d %6d %11.1f us %10d %6d" % (
                        clock, depth, rate, statistics.median(r[0] for r in rows[clock]),
                        statistics.median(r[1] for r in rows[clock]),
                        statistics.median(r[2] for r in rows[clock])))
        iterations = 200000 if args.quick else 1000000
        print("\nslowdown of callheavy.py %d (wall time, profiled / alone, median of %d):"
              % (iterations, repeats))
        for rate in [100, 1000]:
            times = {c: [] for c in [None] + CLOCKS}
            for _ in range(repeats):
                for clock in times:
                    flags = ["--clock", clock, "-r", str(rate)] if clock else None
                    times[clock].append(work_time(args.spyglass, args.python, flags, iterations,
                                                  out))
            alone = statistics.median(times[None])
            print("  %5d Hz: " % rate + ", ".join(
                "--clock %s x%.3f" % (c, statistics.median(times[c]) / alone) for c in CLOCKS) +
                " (alone %.2f s)" % alone)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
