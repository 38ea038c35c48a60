# SPDX-License-Identifier: MIT
"""The end-of-run summary on stderr: its table of hottest functions, its
intervals, and wall mode's split of on-CPU and idle time."""
import os

import pytest

from conftest import ROOT, frame_name, record

RATE = "250"


def summary_rows(stderr):
    """The rows of the 'hottest functions' table as dicts of floats/strings."""
    lines = stderr.splitlines()
    start = next(i for i, l in enumerate(lines) if "hottest functions" in l)
    header = lines[start + 1].split()
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("  ") or not line.strip():
            break
        fields = line.split()
        row, prev = {}, None
        for name in header[:-1]:
            if name == "CI":  # "95% CI": two header words, one field
                continue
            key = prev + " CI" if name == "95%" else name
            row[key] = fields[len(row)]
            prev = name
        row["function"] = " ".join(fields[len(row):])
        rows.append(row)
    return header, rows


def interval(text):
    lo, hi = text.split("-")
    return float(lo), float(hi)


def test_wall_summary_splits_idle(python):
    """11.18: in wall mode the summary ranked a function that waits (here
    sleeper, idle 60% of the time) by its wall share, as if it were hot. Now
    on-CPU and idle shares are apart, ranked by on-CPU, each with an
    interval, and they agree with the profile written in the same run."""
    run = record(["-r", RATE, "--mode", "wall"], "wall_split.py", [2], python)
    assert run.status == 0, run.stderr
    header, rows = summary_rows(run.stderr)
    assert header[:2] == ["on-CPU%", "95%"] and "idle%" in header, run.stderr
    on_cpu = [float(r["on-CPU%"]) for r in rows]
    assert on_cpu == sorted(on_cpu, reverse=True), run.stderr
    for r in rows:
        for share in ("on-CPU%", "idle%"):
            lo, hi = interval(r[share + " CI"])
            assert 0 <= lo < hi <= 100 and lo - 0.05 <= float(r[share]) <= hi + 0.05, r
    # The profile itself is the ground truth for the table: exact counts.
    total = float(run.total)
    leaf_idle, leaf_run = {}, {}
    for stack, n in run.stacks.items():
        idle = stack[-1] == "[idle]"
        leaf = frame_name(stack[-2] if idle else stack[-1])
        d = leaf_idle if idle else leaf_run
        d[leaf] = d.get(leaf, 0) + n
    by_name = {frame_name(r["function"].rsplit(" (", 1)[0]): r for r in rows}
    sleeper = by_name["sleeper"]
    assert float(sleeper["idle%"]) == pytest.approx(100 * leaf_idle["sleeper"] / total, abs=0.006)
    assert float(sleeper["on-CPU%"]) == pytest.approx(
        100 * leaf_run.get("sleeper", 0) / total, abs=0.006)
    # sleeper sleeps 30 ms of every 50: idle far more than on CPU, so it is
    # not above the function that burns (spin's loop).
    assert float(sleeper["idle%"]) > 5 * float(sleeper["on-CPU%"]), run.stderr
    assert rows.index(sleeper) > 0, run.stderr


def test_summary_intervals_stay_in_range(python):
    """11.7: the summary printed 66.67 +/- 53.34 (beyond 100) and 100.00 +/-
    0.00 for one sample. Every interval now lies in [0, 100], has nonzero
    width and holds its share."""
    # About 3 samples: a rate of 2 Hz for 1.5 s, by the timer (the CPU
    # clock needs 0.5 s of one thread's CPU per sample, which a loaded
    # machine may not give in 1.5 s).
    run = record(["-r", "2", "-d", "1.5", "--clock", "timer"], "cpu_split.py", [30], python)
    assert run.status == 0, run.stderr
    header, rows = summary_rows(run.stderr)
    assert rows, run.stderr
    for r in rows:
        lo, hi = interval(r["self% CI"])
        share = float(r["self%"])
        assert 0 <= lo < hi <= 100, run.stderr
        assert lo - 0.05 <= share <= hi + 0.05, run.stderr


def test_demo_app_hot_spot_is_top(python):
    """11.21: make demo profiled a helper called spin. Its program is now
    examples/demo_app.py, recorded as make demo does (wall mode): the hot
    spot it was written around, edit_distance, tops the summary, and its
    slow wait shows as idle time of its own."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        makefile = f.read()
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "record --mode wall" in recipe and "examples/demo_app.py" in recipe, recipe
    # An absolute workload path replaces the workloads folder.
    run = record(["--mode", "wall"], os.path.join(ROOT, "examples", "demo_app.py"), python=python,
                 timeout=300)
    assert run.status == 0, run.stderr
    _, rows = summary_rows(run.stderr)
    assert rows[0]["function"].startswith("edit_distance ("), run.stderr
    # edit_distance is most of the CPU: about 90% of the on-CPU samples
    # listed. (Of all samples it is 35-45% on a fast idle machine, where the
    # fixed 3 x 0.35 s waits weigh more, and more on slower ones: a share of
    # all samples depends on the machine's speed, this one does not.)
    on_cpu = sum(float(r["on-CPU%"]) for r in rows)
    assert float(rows[0]["on-CPU%"]) > 0.6 * on_cpu, run.stderr
    # The service thread sleeps 3 x 0.35 s: about 100 idle samples at 100 Hz.
    waits = [r for r in rows if r["function"].startswith("rates_service (")]
    assert waits and float(waits[0]["idle%"]) > 2, run.stderr
