# SPDX-License-Identifier: MIT
"""cpu mode's two clocks on Python targets. The CPU clock (perf_events
cpu-clock, the default where allowed) samples a thread each time it has used
a period of CPU; the timer wakes every period and weighs each running
thread by the CPU it used since (schedstat). With more busy processes than
cores each is runnable all the time but on a CPU only part of it: both must
give each process the CPU it measured itself. The CPU clock weighs each
sample by the CPU its thread used since the one before (the event's count),
so its weights hold however late we read a sample."""
import collections
import json
import os

import pytest

from conftest import SPYGLASS, WORKLOADS, frame_name, record, run, tolerance
from pbwire import read_profile

RATE = 100
PERIOD_S = 1.0 / RATE


def record_workers(tmp_path, python, clock, seconds=2, extra=()):
    """busy_workers.py with cores + 2 workers under --subprocesses; (profile,
    truth, stderr)."""
    workers = (os.cpu_count() or 1) + 2
    pb = str(tmp_path / ("workers-%s.pb.gz" % clock))
    truth_path = pb + ".truth.json"
    status, _, stderr = run([SPYGLASS, "record", "-r", str(RATE), "--clock", clock,
                             "--subprocesses", "-o", pb] + list(extra) +
                            ["--", python, os.path.join(WORKLOADS, "busy_workers.py"),
                             str(seconds), str(workers)],
                            timeout=120, env=dict(os.environ, SPYGLASS_TRUTH=truth_path))
    assert status == 0, stderr
    with open(truth_path) as f:
        return read_profile(pb), json.load(f), stderr


def per_pid(profile, column):
    sums = collections.Counter()
    index = profile["sample_type"].index(column)
    for values, labels, _ in profile["samples"]:
        sums[labels.get("pid")] += values[index]
    return sums


def check_workers(profile, truth):
    """Each worker's profiled CPU lies between what it measured after its
    start-up sleep and what it used in all: the profile sees it from when it
    was found, within 100 ms of its start, while it sleeps. 10% + 3 periods
    either way: a thread's last partial period, and run times that the
    kernel brings up to date at its ticks (the timer's weights). Counting a
    runnable worker's time instead gives (cores + 2) / cores times too much
    (2.5 s of 'CPU' for each 1 s)."""
    ns = per_pid(profile, ("cpu", "nanoseconds"))
    for pid, (after_start, total) in truth["worker_cpu"].items():
        got = ns[int(pid)] / 1e9
        low, high = after_start * 0.9 - 3 * PERIOD_S, total * 1.1 + 3 * PERIOD_S
        assert low <= got <= high, (pid, got, after_start, total, truth)


def test_cpu_clock_counts_cpu_not_waiting(python, tmp_path):
    """The CPU clock: each starved worker's weights add up to its own CPU,
    and no sample weighs less than the shortest period drawn (half the
    mean), as the kernel takes it only once that much CPU was used."""
    profile, truth, stderr = record_workers(tmp_path, python, "cpu")
    assert "CPU clock: perf_events cpu-clock" in stderr, stderr
    assert "clock: the timer" not in stderr, stderr
    check_workers(profile, truth)
    cpu = profile["sample_type"].index(("cpu", "nanoseconds"))
    count = profile["sample_type"].index(("samples", "count"))
    short = [values for values, _, _ in profile["samples"]
             if values[cpu] < values[count] * int(1e9 / RATE) // 2]
    assert not short, short


@pytest.mark.parametrize("rate", ["50", "100"])
def test_cpu_clock_does_not_alias(python, rate):
    """cpu_split.py repeats 10, 6 and 4 ms slices every 20 ms of CPU: a fixed
    period of 20 or 10 ms of CPU comes back to the same one or two places
    of each cycle (beta got 4% of the samples for its 30% in a run at 100
    Hz). The period is drawn anew after each sample, so each share is
    within four standard errors (at least 3 points) of the workload's own
    CPU clock."""
    run_ = record(["-r", rate, "--clock", "cpu"], "cpu_split.py", [4], python)
    assert run_.status == 0, run_.stderr
    assert "CPU clock: perf_events cpu-clock" in run_.stderr, run_.stderr
    names = ("alpha", "beta", "gamma")
    cpu = run_.truth["cpu"]
    n = sum(k for stack, k in run_.stacks.items() if any(frame_name(f) in names for f in stack))
    # 4 s at 50 Hz: ~200 samples, fewer when the machine is busy.
    assert n >= 50, run_.stderr
    for name in names:
        want = cpu[name] / sum(cpu[k] for k in names)
        got = run_.share(name, names)
        assert abs(got - want) <= tolerance(want, n), (name, got, want, n, run_.stderr)


def test_timer_clock_weighs_cpu(python, tmp_path):
    """The timer: its samples count runnable ticks, but their weights are
    each worker's CPU."""
    profile, truth, stderr = record_workers(tmp_path, python, "timer")
    assert "timer clock" in stderr and "CPU clock" not in stderr, stderr
    check_workers(profile, truth)
    # What the CPU clock fixes: the timer counts a worker waiting for a
    # core as running (here at least 20% more ticks than CPU periods).
    ns = per_pid(profile, ("cpu", "nanoseconds"))
    counts = per_pid(profile, ("samples", "count"))
    workers = [int(p) for p in truth["worker_cpu"]]
    assert sum(counts[p] for p in workers) * PERIOD_S > 1.2 * sum(ns[p] for p in workers) / 1e9, \
        (counts, ns)


def test_gil_falls_back_to_the_timer(tmp_path):
    """--gil needs the GIL's holder at each tick: the timer runs, and the
    summary says why."""
    from test_threads import newest_python
    _, _, stderr = record_workers(tmp_path, newest_python(), "cpu", seconds=1, extra=["--gil"])
    assert "clock: the timer, not the CPU clock: --gil" in stderr, stderr
    assert "timer clock" in stderr, stderr


def test_bad_clock_is_a_usage_error():
    status, _, stderr = run([SPYGLASS, "record", "--clock", "wall", "--", "true"])
    assert status == 2, stderr
    assert "--clock: expected cpu or timer, got 'wall'" in stderr, stderr


@pytest.mark.parametrize("clock", ["cpu", "timer"])
def test_idle_target_is_not_sampled(clock, tmp_path):
    """A program that sleeps 1 s after its start-up: on either clock (cpu
    mode) only the start-up's CPU is sampled (about 20-60 ms: 4-12 samples
    at 200 Hz; a second of sleep would be 200)."""
    from test_threads import newest_python
    out = str(tmp_path / "idle.folded")
    status, _, stderr = run([SPYGLASS, "record", "-r", "200", "--clock", clock, "-o", out, "--",
                             newest_python(), "-c",
                             "import time\nfor _ in range(10): time.sleep(0.1)"])
    assert status == 0, stderr
    with open(out) as f:
        samples = sum(int(line.rsplit(" ", 1)[1]) for line in f if line.strip())
    assert samples <= 30, (samples, stderr)
