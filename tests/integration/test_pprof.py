# SPDX-License-Identifier: MIT
"""pprof files: go tool pprof reads what record writes and agrees with the
collapsed stacks of the same run; convert round-trips them; broken files get
one line."""
import collections
import os
import re
import shutil
import subprocess

import pytest

from conftest import DEBIAN, INTERPRETERS, ROOT, SPYGLASS, TIMEOUT, WORKLOADS, parse_folded
from pbwire import read_profile

GO = shutil.which("go")
GO_PROFILE = os.path.join(ROOT, "tests", "fuzz", "corpus", "pprof", "go_cpu.pb.gz")
ROOT_FRAME = re.compile(r"^(process|thread) -?\d+: ")


def _python():
    if DEBIAN:
        return DEBIAN
    newest = sorted(INTERPRETERS, key=lambda v: tuple(int(x) for x in v.split(".")))
    return INTERPRETERS[newest[-1]] if newest else None


PYTHON = _python()
needs_go = pytest.mark.skipif(not GO, reason="go not installed: go tool pprof reads the files")
needs_python = pytest.mark.skipif(not PYTHON, reason="no CPython found to profile")


def run(cmd, env=None):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT,
                          env=env)
    stderr = proc.stderr.decode("utf-8", "replace")
    for bad in ("Sanitizer", "runtime error", "Traceback"):
        assert bad not in stderr, stderr
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), stderr


def convert(src, dst):
    status, _, stderr = run([SPYGLASS, "convert", str(src), "-o", str(dst)])
    assert status == 0, stderr
    with open(str(dst), encoding="utf-8") as f:
        return parse_folded(f.read())


@pytest.fixture(scope="module")
def go_env(tmp_path_factory):
    """go tool pprof with every place it writes to in a scratch directory."""
    home = tmp_path_factory.mktemp("gohome")
    env = dict(os.environ)
    env.update(HOME=str(home), GOCACHE=str(home / "cache"), GOPATH=str(home / "path"),
               PPROF_TMPDIR=str(home / "pprof"), GOFLAGS="", GOPROXY="off")
    return env


def pprof(go_env, *args):
    status, out, stderr = run([GO, "tool", "pprof", "-sample_index=samples"] + list(args),
                              env=go_env)
    assert status == 0, stderr
    return out


def pprof_top(go_env, path):
    """(total samples, flat samples per function) from go tool pprof -top."""
    out = pprof(go_env, "-top", "-nodecount=1000", "-nodefraction=0", "-edgefraction=0",
                str(path))
    total = int(re.search(r"of (\d+) total", out).group(1))
    flat = collections.Counter()
    rows = out[out.index("flat  flat%"):].splitlines()[1:]
    for row in rows:
        fields = row.split(None, 5)
        if int(fields[0]):
            flat[fields[5]] += int(fields[0])
    return total, flat


def pprof_traces(go_env, path):
    """Each sample of go tool pprof -traces: (labels, stack leaf first, count);
    inlined calls lose their " (inline)" mark."""
    out = pprof(go_env, "-traces", str(path))
    samples = []
    for block in out.split("-----------+" + "-" * 55 + "\n")[1:]:
        labels, stack, count = {}, [], None
        for line in block.splitlines():
            m = re.match(r"^ *([A-Za-z_]+):  (.*)$", line)
            if m and not stack:
                labels[m.group(1)] = m.group(2)
            else:
                count = int(line[:10]) if count is None else count
                stack.append(re.sub(r" \(inline\)$", "", line[13:]))
        if stack:
            samples.append((labels, tuple(stack), count))
    return samples


def name_of(frame):
    return frame.rsplit(" (", 1)[0] if frame.endswith(")") else frame


def function_stacks(stacks):
    """Collapsed stacks as go tool pprof shows them: function names only, leaf
    first, without the roots and the idle leaf (labels in pprof)."""
    out = collections.Counter()
    for stack, n in stacks.items():
        frames = [f for i, f in enumerate(stack) if not (i < 2 and ROOT_FRAME.match(f))]
        if frames and frames[-1] == "[idle]":
            frames.pop()
        out[tuple(name_of(f) for f in reversed(frames))] += n
    return out


def record(tmp_path, args, workload, seconds):
    """Record workload straight to pprof; also the collapsed stacks of the
    same run, converted from it."""
    pb = tmp_path / "run.pb.gz"
    status, _, stderr = run([SPYGLASS, "record", "-r", "200", "-o", str(pb)] + args +
                            ["--", PYTHON, os.path.join(WORKLOADS, workload), str(seconds)])
    assert status == 0, stderr
    with open(str(pb), "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    return pb, convert(pb, tmp_path / "run.folded")


def assert_pprof_agrees(go_env, pb, stacks):
    total, flat = pprof_top(go_env, pb)
    fstacks = function_stacks(stacks)
    assert total == sum(stacks.values()) > 0
    selfs = collections.Counter()
    for stack, n in fstacks.items():
        selfs[stack[0]] += n
    assert flat == selfs
    traces = pprof_traces(go_env, pb)
    by_stack = collections.Counter()
    for _, stack, count in traces:
        by_stack[stack] += count
    assert by_stack == fstacks
    return traces


@needs_go
@needs_python
def test_cpu_mode_go_pprof_agrees(go_env, tmp_path):
    pb, stacks = record(tmp_path, [], "cpu_split.py", 2)
    traces = assert_pprof_agrees(go_env, pb, stacks)
    for name in ("alpha", "beta", "gamma"):
        assert any(name in stack for _, stack, _ in traces), name


@needs_go
@needs_python
def test_wall_threads_go_pprof_agrees(go_env, tmp_path):
    pb, stacks = record(tmp_path, ["--mode", "wall", "--threads"], "threads.py", 2)
    traces = assert_pprof_agrees(go_env, pb, stacks)
    # Labels: each thread's samples under its name, idle ones marked.
    by_thread, idle = collections.Counter(), collections.Counter()
    for labels, _, count in traces:
        assert labels["state"] in ("idle", "running")
        by_thread[labels["thread_name"]] += count
        if labels["state"] == "idle":
            idle[labels["thread_name"]] += count
        for key in ("pid", "tid", "process", "start", "end"):
            assert key in labels, labels
    roots = collections.Counter()
    for stack, n in stacks.items():
        roots[stack[0].split(": ", 1)[1]] += n
    assert by_thread == roots
    assert idle["waiter-1"] > 0.8 * by_thread["waiter-1"]
    # The burners take turns holding the GIL, each idle while it waits for
    # the other: together they run about one thread's worth of samples.
    running = sum(by_thread[b] - idle[b] for b in ("burner-1", "burner-2"))
    assert running > 0.7 * by_thread["burner-1"], (running, by_thread, idle)
    # pprof's own encoding of the file keeps all spyglass reads back.
    again = tmp_path / "pprof-proto.pb.gz"
    pprof(go_env, "-proto", "-output", str(again), str(pb))
    assert convert(again, tmp_path / "pprof-proto.folded") == stacks


@needs_python
def test_convert_round_trip(tmp_path):
    pb, stacks = record(tmp_path, ["--mode", "wall", "--threads"], "threads.py", 1)
    again = tmp_path / "again.pb.gz"
    status, _, stderr = run([SPYGLASS, "convert", str(tmp_path / "run.folded"), "-o",
                             str(again)])
    assert status == 0, stderr
    assert convert(again, tmp_path / "again.folded") == stacks
    # pprof to pprof keeps everything: the same collapsed stacks again.
    status, _, stderr = run([SPYGLASS, "convert", str(pb), "-o", str(tmp_path / "b.pprof")])
    assert status == 0, stderr
    assert convert(tmp_path / "b.pprof", tmp_path / "b.folded") == stacks


@needs_python
def test_convert_from_collapsed_invents_nothing(tmp_path):
    """A collapsed file says how many samples, not how they were taken: its
    pprof has counts only, mode unknown, unless --rate gives the period."""
    folded = tmp_path / "wall.folded"
    status, _, stderr = run([SPYGLASS, "record", "-r", "200", "--mode", "wall", "-o",
                             str(folded), "--", PYTHON, os.path.join(WORKLOADS, "threads.py"),
                             "1"])
    assert status == 0, stderr
    with open(str(folded)) as f:
        total = sum(parse_folded(f.read()).values())
    assert total > 0
    pb = tmp_path / "wall.pb.gz"
    status, _, stderr = run([SPYGLASS, "convert", str(folded), "-o", str(pb)])
    assert status == 0, stderr
    prof = read_profile(pb)
    assert prof["sample_type"] == [("samples", "count")]
    assert prof["period"] == 0 and prof["period_type"] is None
    assert prof["comments"]["spyglass.mode"] == "unknown"
    assert prof["comments"]["spyglass.rate_asked_hz"] == "0"
    assert int(prof["comments"]["spyglass.samples"]) == total
    assert sum(values[0] for values, _, _ in prof["samples"]) == total
    # The unknown mode survives a round trip, and formats that print it say so.
    trace = tmp_path / "wall.trace.json"
    status, _, stderr = run([SPYGLASS, "convert", str(pb), "-o", str(trace)])
    assert status == 0, stderr
    with open(str(trace)) as f:
        assert '"mode":"unknown"' in f.read()
    # --rate: each sample stands for a period.
    rated = tmp_path / "rated.pb.gz"
    status, _, stderr = run([SPYGLASS, "convert", "--rate", "250", str(folded), "-o", str(rated)])
    assert status == 0, stderr
    prof = read_profile(rated)
    assert prof["sample_type"] == [("samples", "count"), ("time", "nanoseconds")]
    assert prof["period_type"] == ("time", "nanoseconds") and prof["period"] == 4000000
    assert prof["comments"]["spyglass.rate_asked_hz"] == "250"
    assert all(values[1] == values[0] * 4000000 for values, _, _ in prof["samples"])
    assert sum(values[0] for values, _, _ in prof["samples"]) == total
    # A file that gives its rate keeps it.
    status, _, stderr = run([SPYGLASS, "convert", "--rate", "100", str(rated), "-o",
                             str(tmp_path / "again.pb.gz")])
    assert_one_line_error(status, stderr)
    assert "--rate" in stderr


@needs_python
def test_pprof_to_pprof_keeps_run_times(tmp_path):
    """Each run's start and end come back exactly as recorded (not as start
    plus the run's nanoseconds, which loses the sampling jitter)."""
    pb, _ = record(tmp_path, ["--mode", "wall", "--threads"], "threads.py", 1)
    again = tmp_path / "again.pb.gz"
    status, _, stderr = run([SPYGLASS, "convert", str(pb), "-o", str(again)])
    assert status == 0, stderr
    before, after = read_profile(pb), read_profile(again)

    def runs(prof):
        return [(labels.get("tid"), labels["start"], labels["end"], values[0])
                for values, labels, _ in prof["samples"]]

    # Jitter moves samples off their ticks, so some ends are not start + ns:
    # what a reader that derived the end would have got wrong.
    assert any(labels["end"] != labels["start"] + values[1]
               for values, labels, _ in before["samples"])
    assert sorted(runs(after)) == sorted(runs(before))


@needs_go
def test_reads_go_profiles(go_env, tmp_path):
    stacks = convert(GO_PROFILE, tmp_path / "go.folded")
    assert_pprof_agrees(go_env, GO_PROFILE, stacks)
    # Inlined calls are frames of their own.
    assert any("main.inlined" in name_of(f) for stack in stacks for f in stack)


def assert_one_line_error(status, stderr):
    assert status == 1, (status, stderr)
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("spyglass: "), stderr


@pytest.mark.parametrize("name,content", [
    ("empty.pb.gz", b""),
    ("random.pb.gz", b"\x1f\x8b" + bytes(range(256)) * 4),
    ("image.pb.gz", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + b"\0" * 64),
    ("image.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + b"\0" * 64),
    ("raw-garbage.pprof", b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 32),
    ("truncated.pb.gz", None),
])
def test_convert_rejects_broken_files(tmp_path, name, content):
    path = tmp_path / name
    if content is None:
        with open(GO_PROFILE, "rb") as f:
            content = f.read()[:200]
    path.write_bytes(content)
    out = tmp_path / "out.folded"
    status, _, stderr = run([SPYGLASS, "convert", str(path), "-o", str(out)])
    assert_one_line_error(status, stderr)
    assert not out.exists()
