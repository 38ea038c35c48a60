# SPDX-License-Identifier: MIT
"""spyglass record against real CPythons, checked against the workloads' ground truth."""
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import (SPYGLASS, WORKLOADS, _version_of, frame_name, parse_folded, record, start,
                      stop, tolerance)

RATE = "250"


def assert_share(run, name, among, truth_share):
    got = run.share(name, among)
    n = sum(n for stack, n in run.stacks.items() if any(frame_name(f) in among for f in stack))
    tol = tolerance(truth_share, n)
    assert abs(got - truth_share) <= tol, "%s: %.3f vs truth %.3f (+-%.3f, n=%d)\n%s" % (
        name, got, truth_share, tol, n, run.stderr)


def test_cpu_split(python):
    run = record(["-r", RATE], "cpu_split.py", [2], python)
    assert run.status == 0, run.stderr
    names = ("alpha", "beta", "gamma")
    cpu = run.truth["cpu"]
    for name in names:
        assert_share(run, name, names, cpu[name] / sum(cpu[k] for k in names))
    assert "samples:" in run.stderr and "achieved" in run.stderr


def dropped(run):
    """Samples dropped, from the summary line 'dropped: N (...)'."""
    line = next(l for l in run.stderr.splitlines() if l.strip().startswith("dropped:"))
    return int(line.split()[1])


def test_churn_not_biased(python):
    """A stack that changes all the time gets its full share: torn walks are
    walked again, not dropped."""
    run = record(["-r", RATE], "churn.py", [2], python)
    assert run.status == 0, run.stderr
    names = ("churn", "steady")
    cpu = run.truth["cpu"]
    assert_share(run, "churn", names, cpu["churn"] / (cpu["churn"] + cpu["steady"]))
    # 2.7's innermost frame is checked again after it is read (pywalk.c,
    # recheck_leaf: a dead frame there once showed impossible stacks), and a
    # frame that returned and was reused meanwhile tears the walk: 9 of 504
    # samples dropped once at 250 Hz under ASan, against 0-2 before the check.
    allowed = 0.03 if _version_of(python) == "2.7" else 0.01
    assert dropped(run) <= allowed * run.total + 2, run.stderr


def test_sleep_burn_cpu_mode(python):
    run = record(["-r", RATE], "wall_split.py", [2], python)
    assert run.status == 0, run.stderr
    names = ("sleeper", "burner")
    # On-CPU samples only: the sleeper is off CPU but for the instants it wakes.
    assert run.share("burner", names) >= 0.93, run.stacks
    assert not any(f == "[idle]" for stack in run.stacks for f in stack)


def test_sleep_burn_wall_mode(python):
    run = record(["-r", RATE, "--mode", "wall"], "wall_split.py", [2], python)
    assert run.status == 0, run.stderr
    names = ("sleeper", "burner")
    wall = run.truth["wall"]
    assert_share(run, "sleeper", names, wall["sleeper"] / (wall["sleeper"] + wall["burner"]))
    idle = sum(n for stack, n in run.stacks.items() if stack[-1] == "[idle]")
    sleeping = sum(n for stack, n in run.stacks.items()
                   if stack[-1] == "[idle]" and any(frame_name(f) == "sleeper" for f in stack))
    # Idle samples are the sleeper's (allow a few of interpreter start-up and exit).
    assert idle > 0 and sleeping >= 0.9 * idle


@pytest.mark.parametrize("depth", [100, 500])
def test_deep_stacks(python, depth):
    run = record(["-r", RATE], "deep.py", [1.5, depth], python)
    assert run.status == 0, run.stderr
    deepest = max(run.stacks, key=lambda s: sum(frame_name(f) == "descend" for f in s))
    assert sum(frame_name(f) == "descend" for f in deepest) >= depth
    names = [frame_name(f) for f in deepest]
    assert "leaf" in names and names.index("leaf") > max(i for i, n in enumerate(names) if n == "descend")
    assert "truncated: 0\n" in run.stderr, run.stderr


def thread_roots(run):
    roots = {}
    for stack, n in run.stacks.items():
        assert stack[0].startswith("thread "), stack
        tid, _, name = stack[0][len("thread "):].partition(": ")
        roots.setdefault(name, set()).add(int(tid))
    return roots


def test_threads(python):
    run = record(["-r", RATE, "--threads", "--mode", "wall"], "threads.py", [2], python)
    assert run.status == 0, run.stderr
    roots = thread_roots(run)
    for name in ("MainThread", "burner-1", "burner-2", "waiter-1"):
        assert name in roots, (name, sorted(roots))
    if run.truth.get("tids"):
        for name, tid in run.truth["tids"].items():
            assert roots[name] == {tid}, (name, roots[name], tid)
    owner = {"burn_one": "burner-1", "burn_two": "burner-2", "wait_here": "waiter-1"}
    named = set(owner.values()) | {"MainThread"}
    unnamed = dict.fromkeys(owner, 0)
    total = dict.fromkeys(owner, 0)
    waiting_idle = 0
    for stack, n in run.stacks.items():
        name = stack[0].split(": ", 1)[1]
        for fn, thread in owner.items():
            if any(frame_name(f) == fn for f in stack):
                total[fn] += n
                # Never under another Python thread; under the kernel's name
                # only in the moments before the threading module lists it.
                if name not in named:
                    unnamed[fn] += n
                else:
                    assert name == thread, stack
        if any(frame_name(f) == "wait_here" for f in stack) and stack[-1] == "[idle]":
            waiting_idle += n
    # 2.7's Event.wait(timeout) polls, so the waiter is briefly on a CPU.
    assert waiting_idle >= 0.9 * total["wait_here"], (waiting_idle, total)
    for fn in owner:
        assert total[fn] > 0 and unnamed[fn] <= 0.05 * total[fn] + 2, (fn, unnamed, total)


def test_lines(python):
    run = record(["-r", RATE], "lines.py", [2], python)
    assert run.status == 0, run.stderr
    lines = run.truth["lines"]
    at = {lines["seventy"]: 0, lines["thirty"]: 0}
    for stack, n in run.stacks.items():
        for f in stack:
            if frame_name(f) == "two_lines":
                line = int(f.rsplit(":", 1)[1].rstrip(")"))
                if line in at:
                    at[line] += n
    n = sum(at.values())
    assert n > 100, at
    share = at[lines["seventy"]] / float(n)
    # Both lines run the same statement; the split is 70/30 by count, so the
    # tolerance adds 5 points for bytecode that differs between the loops.
    assert abs(share - 0.7) <= tolerance(0.7, n) + 0.05, (share, at)


def test_function_merges_lines(python):
    run = record(["-r", RATE, "--function"], "lines.py", [1], python)
    assert run.status == 0, run.stderr
    first = run.truth["lines"]["first"]
    frames = {f for stack in run.stacks for f in stack if frame_name(f) == "two_lines"}
    assert frames and all(f.endswith(":%d)" % first) for f in frames), frames


def test_subprocesses(python):
    run = record(["-r", "100", "--subprocesses"], "children.py", [2, 2], python)
    assert run.status == 0, run.stderr
    parent, children = run.truth["pid"], run.truth["children"]
    seen = {}
    for stack, n in run.stacks.items():
        assert stack[0].startswith("process "), stack
        pid = int(stack[0][len("process "):].split(":", 1)[0])
        seen.setdefault(pid, set()).update(frame_name(f) for f in stack[1:])
    assert "parent_work" in seen.get(parent, ()), seen.keys()
    for child in children:
        assert "child_work" in seen.get(child, ()), (child, seen.keys())
        assert "parent_work" not in seen[child]


def test_unicode_names(python):
    run = record(["-r", RATE], "unicode_names.py", [1], python)
    assert run.status == 0, run.stderr
    names = {frame_name(f) for stack in run.stacks for f in stack}
    assert u"naïve_ß" in names and u"计算" in names, names


def test_attach_by_pid(python):
    target = start(python, "cpu_split.py", 6)
    try:
        run = record(["-r", RATE, "-d", "1.5"], pid=target.pid)
    finally:
        stop(target)
    assert run.status == 0, run.stderr
    assert run.samples_with("alpha") > 0 and run.samples_with("beta") > 0
    assert target.returncode == -signal.SIGKILL  # it was still running: never stopped by us


def test_sigint_writes_full_output(python):
    target = start(python, "cpu_split.py", 8)
    fd, out = tempfile.mkstemp(suffix=".folded")
    os.close(fd)
    try:
        prof = subprocess.Popen([SPYGLASS, "record", "-r", RATE, "-o", out, "--pid", str(target.pid)],
                                stderr=subprocess.PIPE)
        time.sleep(1.5)
        prof.send_signal(signal.SIGINT)
        _, err = prof.communicate(timeout=20)
    finally:
        stop(target)
    assert prof.returncode == 0, err
    with open(out) as f:
        stacks = parse_folded(f.read())
    os.unlink(out)
    samples = int(err.decode().split("samples: ")[1].split()[0])
    assert sum(stacks.values()) == samples and samples > 100


def test_target_exit_ends_run(python):
    target = start(python, "cpu_split.py", 1.5, settle=0.3)
    began = time.time()
    try:
        run = record(["-r", RATE, "-d", "30"], pid=target.pid)
    finally:
        stop(target)
    assert run.status == 0, run.stderr
    assert time.time() - began < 10
    assert run.samples_with("alpha") > 0


def test_gil_only_holder(python):
    run = record(["-r", RATE, "--gil", "--threads"], "threads.py", [2], python)
    assert run.status == 0, run.stderr
    assert run.total > 0
    # The waiter blocks without the GIL; only burners (or main) hold it. It
    # holds the GIL for the moments it runs Python code on its way into the
    # wait and out of it, which a tick can catch (once in ~30 runs here).
    waiting = sum(n for stack, n in run.stacks.items()
                  if any(frame_name(f) == "wait_here" for f in stack))
    assert waiting <= 2, waiting
    # One holder per tick at most: no more samples than ticks.
    ticks = float(run.stderr.split("of ")[1].split()[0])
    assert run.total <= ticks + 1


def test_embedded_libpython():
    embed = os.environ.get("SPYGLASS_EMBED", "")
    if not os.path.exists(embed):
        pytest.skip("embedding program not built (make build/tests/embed)")
    truth = tempfile.mktemp(suffix=".json")
    env = dict(os.environ, SPYGLASS_TRUTH=truth)
    fd, out = tempfile.mkstemp(suffix=".folded")
    os.close(fd)
    proc = subprocess.run([SPYGLASS, "record", "-r", RATE, "-o", out, "--", embed,
                           os.path.join(WORKLOADS, "cpu_split.py"), "2"],
                          stderr=subprocess.PIPE, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    with open(out) as f:
        stacks = parse_folded(f.read())
    os.unlink(out)
    names = {frame_name(f) for stack in stacks for f in stack}
    assert {"alpha", "beta", "gamma"} <= names


def test_target_execs_mid_run(python):
    run = record(["-r", RATE], "execs.py", [1], python)
    assert run.status == 0, run.stderr
    assert run.samples_with("before_exec") > 50 and run.samples_with("after_exec") > 50, run.stacks
