# SPDX-License-Identifier: MIT
"""spyglass heap --traces: tracemalloc's own traces read from a target started
with PYTHONTRACEMALLOC=N, against what the target's own tracemalloc says
(tests/workloads/traced.py writes its take_snapshot().statistics()), and
--diff naming the growing line first. Every CPython here: 2.7 has no
tracemalloc, Debian's stripped 3.11 lacks the symbols (both one line)."""
import json
import os
import subprocess
import tempfile
import time

import pytest

from conftest import DEBIAN, INTERPRETERS, TIMEOUT, WORKLOADS, start, stop
from test_heap import assert_one_line_error, heap, wait_idle

WORKLOAD = os.path.join(WORKLOADS, "traced.py")
NFRAME = 4


def start_traced(python, mode, nframe=NFRAME, seconds=60):
    fd, truth = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    os.unlink(truth)
    saved = os.environ.get("PYTHONTRACEMALLOC")
    os.environ["PYTHONTRACEMALLOC"] = str(nframe)
    try:
        proc = start(python, "traced.py", mode, seconds, truth=truth, settle=0)
    finally:
        if saved is None:
            del os.environ["PYTHONTRACEMALLOC"]
        else:
            os.environ["PYTHONTRACEMALLOC"] = saved
    deadline = time.time() + TIMEOUT
    while not os.path.exists(truth) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    time.sleep(0.2)  # the file is written whole before it is seen: let it close
    with open(truth) as f:
        doc = json.load(f)
    os.unlink(truth)
    if mode == "idle":
        wait_idle(proc.pid)
    return proc, doc


GROW_LINE = 36  # grow(): KEPT.append(bytearray(20000))


def is_27(python):
    return python == INTERPRETERS.get("2.7")


def need_tracemalloc(python):
    if python == DEBIAN:
        pytest.skip("Debian's python3 is stripped: no tracemalloc_traces symbol "
                    "(test_without_symbols_one_line checks its message)")
    if is_27(python):
        pytest.skip("Python 2.7 has no tracemalloc (test_unsupported_one_line checks it)")


def close(ours, theirs, what):
    """Sizes and counts of a line that held still between the target's own
    snapshot and our read: equal but for what the target allocated there in
    between (writing its truth allocates elsewhere): within 1% and 2 blocks."""
    assert abs(ours["bytes"] - theirs["size"]) <= 0.01 * theirs["size"], (what, ours, theirs)
    assert abs(ours["blocks"] - theirs["count"]) <= 0.01 * theirs["count"] + 2, (what, ours,
                                                                                 theirs)


def test_traces_match_own_tracemalloc_by_line(python):
    need_tracemalloc(python)
    proc, truth = start_traced(python, "idle")
    try:
        status, out, err = heap("--pid", proc.pid, "--traces", "--json")
        assert status == 0, err
        doc = json.loads(out)
        assert doc["group"] == "lineno" and doc["max_nframe"] == truth["nframe"] == NFRAME
        assert doc["skipped"] == 0 and doc["tables"] >= 1, doc
        ours = [("%s:%d" % (s["frames"][0]["file"], s["frames"][0]["line"]), s)
                for s in doc["stats"]]
        assert all(len(s["frames"]) == 1 for _, s in ours)
        # The three largest lines, in the same order: allocate()'s three on
        # every version (4.0, 3.2 and 1.7-2.0 MB), or an import line between.
        theirs = [("%s:%d" % (t["file"], t["line"]), t) for t in truth["lineno"]]
        assert [k for k, _ in ours[:3]] == [k for k, _ in theirs[:3]], (ours[:5], theirs[:5])
        for (key, o), (_, t) in zip(ours[:3], theirs[:3]):
            close(o, t, key)
        own = [k for k, _ in theirs if k.startswith(WORKLOAD + ":")]
        assert len(own) >= 3, theirs
        sizes = [s["bytes"] for _, s in ours]
        assert sizes == sorted(sizes, reverse=True)
        assert doc["blocks"] == sum(s["blocks"] for _, s in ours)
        assert doc["bytes"] == sum(sizes)
        assert proc.poll() is None
    finally:
        stop(proc)


def test_traces_match_own_tracemalloc_by_traceback(python):
    need_tracemalloc(python)
    proc, truth = start_traced(python, "idle")
    try:
        status, out, err = heap("--pid", proc.pid, "--traces", "--group", "traceback", "--json")
        assert status == 0, err
        doc = json.loads(out)
        assert doc["group"] == "traceback"
        ours = [([[f["file"], f["line"]] for f in s["frames"]], s) for s in doc["stats"]]
        theirs = [(t["frames"], t) for t in truth["traceback"]]
        assert [k for k, _ in ours[:3]] == [k for k, _ in theirs[:3]], (ours[:3], theirs[:3])
        for (key, o), (_, t) in zip(ours[:3], theirs[:3]):
            close(o, t, key)
        # allocate()'s first line called from main(): frames beyond the
        # first are read (the comprehension is a frame of its own before 3.12).
        top = theirs[0][0]
        assert len(top) >= 3 and top[0] == [WORKLOAD, 28], top
        # Text: the frames oldest first, as Traceback.format() shows them.
        status, out, err = heap("--pid", proc.pid, "--traces", "--group", "traceback",
                                "--limit", 1)
        assert status == 0, err
        lines = out.splitlines()
        assert lines[3].split() == ["bytes", "blocks", "average", "traceback", "(most",
                                    "recent", "call", "last)"], out
        shown = [l.split()[-1] for l in lines[4:4 + len(top)]]
        assert shown == ["%s:%d" % (f, n) for f, n in reversed(top)], out
        assert "more: --top 0 shows all" in lines[-1]
    finally:
        stop(proc)


def test_traces_diff_names_the_growing_line_first(python):
    need_tracemalloc(python)
    proc, truth = start_traced(python, "grow", nframe=1)
    try:
        status, out, err = heap("--pid", proc.pid, "--traces", "--diff", 2, "--json")
        assert status == 0, err
        doc = json.loads(out)
        first = doc["stats"][0]
        # grow() keeps 200 KB a tick, 2 MB a second; on a loaded machine the
        # target may run at a tenth of its pace: still 10 blocks and 200 KB.
        assert (first["frames"][0]["file"], first["frames"][0]["line"]) == (WORKLOAD, GROW_LINE), first
        assert first["bytes_diff"] >= 200000 and first["blocks_diff"] >= 10, first
        assert first["bytes_diff"] <= first["bytes"]
        assert doc["after"]["blocks"] > doc["before"]["blocks"]
        status, out, err = heap("--pid", proc.pid, "--traces", "--diff", 1, "--top", 3)
        assert status == 0, err
        lines = out.splitlines()
        assert lines[0].startswith("Traces of process %d (Python " % proc.pid), out
        assert lines[5].split()[-1] == "%s:%d" % (WORKLOAD, GROW_LINE) and lines[5].split()[1][0] == "+", out
    finally:
        stop(proc)


def test_tracemalloc_off_one_line(python):
    need_tracemalloc(python)
    proc = start(python, "heap.py", "idle", 30)
    try:
        status, out, err = heap("--pid", proc.pid, "--traces")
        assert_one_line_error(status, err, "tracemalloc is off", "PYTHONTRACEMALLOC=1")
        assert out == ""
    finally:
        stop(proc)


def test_unsupported_one_line(python):
    if not is_27(python):
        pytest.skip("only Python 2.7 lacks tracemalloc")
    proc = start(python, "heap.py", "idle", 30)
    try:
        status, out, err = heap("--pid", proc.pid, "--traces")
        assert_one_line_error(status, err, "Python 2.7 has no tracemalloc")
    finally:
        stop(proc)


def test_without_symbols_one_line():
    if not DEBIAN:
        pytest.skip("Debian's /usr/bin/python3 not found")
    proc, _ = start_traced(DEBIAN, "idle", nframe=1)
    try:
        status, out, err = heap("--pid", proc.pid, "--traces")
        assert_one_line_error(status, err, "lacks the symbols", "tracemalloc_traces")
    finally:
        stop(proc)


def test_traces_bad_usage():
    for args, words in ((["--pid", "1", "--group", "lineno"], "--group goes with --traces"),
                        (["--pid", "1", "--traces", "--group", "x"], "lineno or traceback"),
                        (["--pid", "1", "--traces", "--referrers", "x"], "do not go together")):
        status, out, err = heap(*args)
        assert status == 2 and out == "", (args, status, out)
        assert_one_line_error(status, err, words)


def test_traces_not_python():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        status, out, err = heap("--pid", sleeper.pid, "--traces")
        assert_one_line_error(status, err, "not running CPython")
        assert out == "" and sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_traces_target_exits_mid_read(python):
    # The target ends while the second read of a diff waits or reads.
    need_tracemalloc(python)
    proc, _ = start_traced(python, "grow", seconds=1)
    try:
        status, out, err = heap("--pid", proc.pid, "--traces", "--diff", 3)
        assert_one_line_error(status, err, "exited while its traces were read")
        assert out == ""
    finally:
        stop(proc)
