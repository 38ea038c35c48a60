# SPDX-License-Identifier: MIT
"""record --period: a file per window, written while the run goes on."""
import json
import os
import re
import subprocess
import sys
import time

from conftest import SPYGLASS, WORKLOADS, DEBIAN, parse_folded, frame_name
from pbwire import read_profile

PYTHON = DEBIAN or sys.executable


def functions(path):
    """Samples per function name (anywhere on the stack) of one profile."""
    out = subprocess.run([SPYGLASS, "convert", str(path), "-f", "collapsed", "-o", "-"],
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode()
    counts = {}
    for stack, n in parse_folded(out).items():
        for name in set(frame_name(f) for f in stack):
            counts[name] = counts.get(name, 0) + n
    return counts


def test_period_cuts_back_to_back_windows(tmp_path):
    truth = tmp_path / "truth.json"
    out = tmp_path / "out.pb.gz"
    env = dict(os.environ, SPYGLASS_TRUTH=str(truth))
    # Wall mode: a window's samples do not depend on the CPU a loaded
    # machine leaves the workload (the CPU clock gave one window 28).
    proc = subprocess.run([SPYGLASS, "record", "--period", "1", "-r", "100", "--mode", "wall",
                           "-o", str(out), "--", PYTHON, os.path.join(WORKLOADS, "phases.py"), "4"],
                          stderr=subprocess.PIPE, env=env, timeout=60)
    stderr = proc.stderr.decode()
    assert proc.returncode == 0, stderr
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    files = sorted(tmp_path.glob("out.*.pb.gz"))
    # Numbered from 1 without gaps; 4 s of run in 1 s windows: 4 or 5 (the
    # start-up and the exit fall where they fall).
    assert [f.name for f in files] == ["out.%04d.pb.gz" % (i + 1) for i in range(len(files))]
    assert 4 <= len(files) <= 5, stderr
    assert not out.exists()
    assert "wrote %d files of 1 s, %s to %s" % (len(files), files[0], files[-1]) in stderr
    profiles = [read_profile(f) for f in files]
    # Back to back on the run's grid: every window but the last lasts 1 s.
    for a, b in zip(profiles, profiles[1:]):
        assert a["duration_nanos"] == 10**9
        assert a["time_nanos"] + a["duration_nanos"] == b["time_nanos"]
    total = sum(int(p["comments"]["spyglass.samples"]) for p in profiles)
    assert re.search(r"samples: %d over" % total, stderr), stderr
    switch = json.loads(truth.read_text())["switch_unix"] * 1e9
    # A window that ends before the switch holds none of `after`, one that
    # starts after it none of `before` (50 ms of slack: five periods, for a
    # tick taken late on a loaded machine).
    slack = 50e6
    whole = 0
    for path, p in zip(files, profiles):
        names = functions(path)
        start, end = p["time_nanos"], p["time_nanos"] + p["duration_nanos"]
        if end < switch - slack:
            assert "after" not in names, (path, names)
        if start > switch + slack:
            assert "before" not in names, (path, names)
        if p["duration_nanos"] == 10**9 and (end < switch - slack or start > switch + slack):
            whole += 1
            # A full second at 100 Hz is ~100 samples; 30 allow a loaded machine.
            assert names.get("before", 0) + names.get("after", 0) >= 30, (path, names)
    assert whole >= 2


def test_period_needs_a_file(tmp_path):
    proc = subprocess.run([SPYGLASS, "record", "--period", "1", "-o", "-", "--", PYTHON, "-c", "1"],
                          stderr=subprocess.PIPE, timeout=30)
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("spyglass: --period")
    proc = subprocess.run([SPYGLASS, "record", "--period", "0", "-o", "x", "--", PYTHON, "-c", "1"],
                          stderr=subprocess.PIPE, timeout=30)
    assert proc.returncode == 2, proc.stderr


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def test_period_memory_bounded_by_window_not_run(tmp_path):
    """record --period 1 at 4 kHz on a program whose stacks churn: its RSS
    after 46 s is its RSS after 6 s within 3% + 256 KiB. Each window's
    samples are written and forgotten; without --period the same run's
    timeline grows by 1.5 MiB over those 40 s (measured at 3.5 kHz
    achieved: 11.3 to 12.9 MiB), with --period by at most 0.1 MiB."""
    out = tmp_path / "out.pb.gz"
    # A sanitizer build keeps freed memory in quarantine: not ours to bound.
    env = dict(os.environ, ASAN_OPTIONS="quarantine_size_mb=1:thread_local_quarantine_size_kb=64")
    proc = subprocess.Popen([SPYGLASS, "record", "--period", "1", "-r", "4000", "-o", str(out),
                             "--", PYTHON, os.path.join(WORKLOADS, "churn.py"), "50"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        time.sleep(6)
        short = rss_kib(proc.pid)
        time.sleep(40)
        long_ = rss_kib(proc.pid)
    finally:
        stderr = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 0, stderr
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    assert long_ <= short * 1.03 + 256, (short, long_)
    files = sorted(tmp_path.glob("out.*.pb.gz"))
    assert len(files) >= 46, len(files)
    # The windows were written as the run went, each a whole profile.
    last = read_profile(files[-2])
    assert last["duration_nanos"] == 10**9 and int(last["comments"]["spyglass.samples"]) > 0
