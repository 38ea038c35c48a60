# SPDX-License-Identifier: MIT
"""How a run begins and ends: exec chains, short programs, the duration, signals, exit
statuses, targets that exec or whose pid is reused, progress, and what spyglass's own death
does to the program it launched. Real processes and interpreters throughout."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from pbwire import read_profile
from conftest import (INTERPRETERS, SPYGLASS, WORKLOADS, _pyenv_root, frame_name, parse_folded,
                      record, start, stop)

RATE = "250"


def wait_for(predicate, timeout=30, what="condition"):
    """Poll predicate until true; generous, since the machine is shared."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def write_shim(tmp_path, python):
    """A launcher like pyenv's shims: a shell script that execs the interpreter."""
    shim = tmp_path / "python-shim"
    shim.write_text('#!/bin/sh\nexec "%s" "$@"\n' % python)
    shim.chmod(0o755)
    return str(shim)


def ended_ms(stderr):
    m = re.search(r"after (\d+(?:\.\d+)?) (ms|s)\b", stderr)
    assert m, stderr
    return float(m.group(1)) * (1 if m.group(2) == "ms" else 1000)


def spyglass(args, **kw):
    out = subprocess.run([SPYGLASS, "record"] + args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=kw.pop("timeout", 60), **kw)
    err = out.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err
    return out.returncode, err


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


# -- 11.4: short programs, exec chains --------------------------------------------------------

def test_short_program_through_shim(python, tmp_path):
    """A CPython that ends within a few ms, started through a shell shim, is found, and its
    (maybe empty) profile is written with a line saying when it ended."""
    shim = write_shim(tmp_path, python)
    out = str(tmp_path / "short.folded")
    for _ in range(3):
        began = time.time()
        status, err = spyglass(["-o", out, "--", shim, "-S", "-c", "print('ran')"])
        took_ms = (time.time() - began) * 1000
        assert status == 0, err
        assert "the program exited with status 0 after" in err, err
        assert 0 < ended_ms(err) <= took_ms, (err, took_ms)
        with open(out) as f:
            parse_folded(f.read())


def test_pyenv_shim_is_not_taken_for_a_native_program(tmp_path):
    """pyenv's shim runs bash scripts for longer than the native fallback's
    probes last (tens of ms, more under load): what it execs is still found
    to be CPython and sampled as Python, not the shell natively."""
    shim = os.path.join(_pyenv_root(), "shims", "python3")
    if not os.path.exists(shim):
        pytest.skip("pyenv's python3 shim not found")
    out = str(tmp_path / "shim.folded")
    status, err = spyglass(["-o", out, "--", shim, "-c",
                            "import time\nt = time.time()\nwhile time.time() - t < 1: pass"])
    assert status == 0, err
    assert re.search(r"\(Python \d+\.\d+\.\d+, cpu mode\)", err), err
    with open(out) as f:
        stacks = parse_folded(f.read())
    assert any(frame_name(stack[-1]) == "<module>" for stack in stacks), stacks


def test_short_program_through_pyenv_shim(tmp_path):
    shim = os.path.join(_pyenv_root(), "shims", "python3")
    if not os.path.exists(shim):
        pytest.skip("pyenv's python3 shim not found")
    out = str(tmp_path / "short.folded")
    for _ in range(3):
        status, err = spyglass(["-o", out, "--", shim, "-c", "print('ran')"])
        assert status == 0, err
        assert "the program exited with status 0 after" in err, err


# -- 11.5: the duration is wall time ----------------------------------------------------------

@pytest.mark.parametrize("rate, duration", [("1", 2.5), ("0.2", 1.0)])
def test_duration_is_wall_time_at_low_rates(rate, duration, tmp_path):
    python = next(iter(INTERPRETERS.values()), sys.executable)
    out = str(tmp_path / "slow.folded")
    began = time.time()
    status, err = spyglass(["-r", rate, "-d", str(duration), "-o", out, "--", python, "-c",
                            "import time; time.sleep(30)"])
    took = time.time() - began
    assert status == 0, err
    assert "(--duration)" in err, err
    # Start-up (a few ms) plus a loaded machine: at most 0.5 s beyond the duration,
    # against a full period (1 s, 5 s) before.
    assert duration <= took < duration + 0.5, (took, err)
    assert os.path.exists(out)


# -- 11.9: a target that execs something that is not CPython -----------------------------------

def test_attached_target_execs_non_python(python):
    target = start(python, "exec_other.py", 1.5, "/bin/sleep", "30", settle=0.3)
    began = time.time()
    try:
        run = record(["-r", RATE, "-d", "40"], pid=target.pid)
        took = time.time() - began
    finally:
        stop(target)
    assert run.status == 0, run.stderr
    assert run.samples_with("before_exec") > 50, run.stacks
    assert re.search(r"pid %d exec'd \S*/sleep after [\d.]+ s: it is not CPython" % target.pid,
                     run.stderr), run.stderr
    assert took < 20, took  # not the 40 s duration: the run ended at the exec


def test_launched_program_execs_non_python(python):
    run = record(["-r", RATE], "exec_other.py", [1, "/bin/sh", "-c", "sleep 0.5; exit 4"], python)
    assert run.status == 4, run.stderr
    assert run.samples_with("before_exec") > 50, run.stacks
    assert "the program exited with status 4 after" in run.stderr


def test_attached_exec_follows_descendants(python):
    """--subprocesses: the target execs a shell; the shell's Python child is still found."""
    target = start(python, "exec_other.py", 1, "child", settle=0.3)
    try:
        run = record(["-r", RATE, "--subprocesses", "-d", "30"], pid=target.pid)
    finally:
        stop(target)
    assert run.status == 0, run.stderr
    roots = {stack[0] for stack, n in run.stacks.items()
             if any(frame_name(f) == "after_exec" for f in stack)}
    assert roots and all(not r.startswith("process %d:" % target.pid) for r in roots), roots
    assert run.samples_with("before_exec") > 25


# -- 11.10: Ctrl-C and SIGHUP ------------------------------------------------------------------

def start_in_session(args, saved):
    """spyglass in a session of its own, as in a terminal: Ctrl-C reaches its whole group."""
    prof = subprocess.Popen([SPYGLASS, "record"] + args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env=dict(os.environ, SPYGLASS_TRUTH=saved + ".json"))
    wait_for(lambda: os.path.exists(saved + ".ready"), what="the program to start")
    time.sleep(0.5)  # some work() to sample before the interrupt
    return prof


def test_ctrl_c_lets_the_program_save(python, tmp_path):
    saved, out = str(tmp_path / "saved"), str(tmp_path / "out.folded")
    prof = start_in_session(["-r", RATE, "-o", out, "--", python,
                             os.path.join(WORKLOADS, "interrupted.py"), saved], saved)
    os.killpg(prof.pid, signal.SIGINT)
    _, err = prof.communicate(timeout=60)
    err = err.decode()
    assert os.path.exists(saved), err  # the handler ran to its end
    assert prof.returncode == 0, err   # and the program's own status is ours
    assert "the program exited with status 0 after" in err, err
    with open(out) as f:
        stacks = parse_folded(f.read())
    handler = sum(n for s, n in stacks.items() if any(frame_name(f) == "save_work" for f in s))
    # 0.6 s of CPU at 250 Hz is ~150 samples; a fifth allows for a loaded machine.
    assert handler >= 30, (handler, err)
    assert any(frame_name(f) == "work" for s in stacks for f in s)


def test_second_ctrl_c_stops_at_once(python, tmp_path):
    saved, out = str(tmp_path / "saved"), str(tmp_path / "out.folded")
    prof = start_in_session(["-r", RATE, "-o", out, "--", python,
                             os.path.join(WORKLOADS, "interrupted.py"), saved, "ignore"], saved)
    os.killpg(prof.pid, signal.SIGINT)
    time.sleep(1)
    assert prof.poll() is None  # within the grace time, the program ignoring SIGINT runs on
    os.killpg(prof.pid, signal.SIGINT)
    began = time.time()
    _, err = prof.communicate(timeout=60)
    err = err.decode()
    assert time.time() - began < 3, err  # not the rest of the 5 s grace
    assert prof.returncode == 128 + signal.SIGINT, err
    assert "spyglass: stopped on request" in err, err
    with open(out) as f:
        assert sum(parse_folded(f.read()).values()) > 0


def test_ctrl_c_grace_runs_out(python, tmp_path):
    saved, out = str(tmp_path / "saved"), str(tmp_path / "out.folded")
    prof = start_in_session(["-r", RATE, "-o", out, "--", python,
                             os.path.join(WORKLOADS, "interrupted.py"), saved, "ignore"], saved)
    os.killpg(prof.pid, signal.SIGINT)
    began = time.time()
    _, err = prof.communicate(timeout=60)
    took, err = time.time() - began, err.decode()
    assert 4.9 <= took < 9, (took, err)  # the stated 5 s grace, then SIGTERM
    assert "had not ended 5.0 s after Ctrl-C and was sent SIGTERM" in err, err
    assert prof.returncode == 128 + signal.SIGINT, err


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_sighup_sigterm_write_profile_and_end_program(sig, tmp_path):
    python = next(iter(INTERPRETERS.values()), sys.executable)
    saved, out = str(tmp_path / "saved"), str(tmp_path / "out.folded")
    prof = start_in_session(["-r", RATE, "-o", out, "--", python,
                             os.path.join(WORKLOADS, "interrupted.py"), saved], saved)
    children = open("/proc/%d/task/%d/children" % (prof.pid, prof.pid)).read().split()
    prof.send_signal(sig)  # spyglass alone, not its group
    _, err = prof.communicate(timeout=30)
    err = err.decode()
    assert prof.returncode == 128 + sig, err
    assert "spyglass: wrote " + out in err, err
    with open(out) as f:
        assert sum(parse_folded(f.read()).values()) > 0
    assert children and not any(alive(int(c)) for c in children), children


# -- 11.11: the program's exit status ----------------------------------------------------------

@pytest.mark.parametrize("code, status, words", [
    ("raise SystemExit(3)", 3, "exited with status 3"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + 9, "killed by signal 9"),
    ("pass", 0, "exited with status 0"),
])
def test_exit_status_is_the_programs(python, tmp_path, code, status, words):
    out = str(tmp_path / "x.folded")
    got, err = spyglass(["-o", out, "--", python, "-c", code])
    assert got == status, err
    assert words in err, err
    assert os.path.exists(out)


def test_duration_stop_exits_zero(python, tmp_path):
    got, err = spyglass(["-d", "0.5", "-o", str(tmp_path / "x.folded"), "--", python, "-c",
                         "import time; time.sleep(30)"])
    assert got == 0, err
    assert "(--duration); the program was sent SIGTERM" in err, err


# -- 11.13: progress on a terminal only --------------------------------------------------------

def test_progress_line_on_a_terminal(tmp_path):
    if not shutil.which("tmux"):
        pytest.skip("tmux not installed (tools/install-deps.sh installs it)")
    python = next(iter(INTERPRETERS.values()), sys.executable)
    session = "spyglass-progress-%d" % os.getpid()
    out = str(tmp_path / "p.folded")
    command = "%s record -r 50 -d 6 -o %s -- %s -c 'import time; time.sleep(30)'; sleep 30" % (
        SPYGLASS, out, python)
    subprocess.check_call(["tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "10",
                           command])
    try:
        seen = []

        def progress():
            screen = subprocess.check_output(["tmux", "capture-pane", "-p", "-t", session])
            m = re.search(r"spyglass: (\d+\.\d) s \((\d+\.\d) s left\), (\d+) samples, "
                          r"[\d.]+ Hz, \d+ dropped", screen.decode())
            if m and (not seen or m.group(1) != seen[-1][0]):
                seen.append(m.groups())
            return len(seen) >= 3
        wait_for(progress, timeout=20, what="the progress line to update")
        # One line rewritten in place, elapsed growing and time left shrinking.
        assert float(seen[-1][0]) > float(seen[0][0]) and float(seen[-1][1]) < float(seen[0][1])
        wait_for(lambda: b"spyglass: wrote" in subprocess.check_output(
            ["tmux", "capture-pane", "-p", "-t", session]), timeout=30, what="the summary")
        screen = subprocess.check_output(["tmux", "capture-pane", "-p", "-t", session]).decode()
        assert "left)" not in screen, screen  # the line is cleared before the summary
    finally:
        subprocess.call(["tmux", "kill-session", "-t", session])


def test_no_progress_when_not_a_terminal(python):
    run = record(["-r", RATE, "-d", "1.5"], "cpu_split.py", [5], python)
    assert run.status == 0, run.stderr
    assert "\r" not in run.stderr and "left)" not in run.stderr, run.stderr


# -- 11.16: an attached run is titled by the command line --------------------------------------

def test_attached_run_titled_by_command_line(python, tmp_path):
    """11.16: an attached run is titled by the target's command line from
    /proc, not "pid N": the Chrome trace's command, the flame graph's
    title, speedscope's name and pprof's spyglass.command comment."""
    target = start(python, "cpu_split.py", 8, settle=0.5)
    outs = {ext: str(tmp_path / ("t" + ext))
            for ext in (".trace.json", ".svg", ".speedscope.json", ".pb.gz")}
    try:
        for out in outs.values():
            status, err = spyglass(["-r", RATE, "-d", "0.5", "-o", out, "--pid", str(target.pid)])
            assert status == 0, err
    finally:
        stop(target)
    want = "%s %s 8" % (python, os.path.join(WORKLOADS, "cpu_split.py"))
    with open(outs[".trace.json"]) as f:
        assert json.load(f)["otherData"]["command"] == want
    with open(outs[".speedscope.json"]) as f:
        assert json.load(f)["name"] == want
    with open(outs[".svg"]) as f:
        assert "<title>%s</title>" % want in f.read()
    comments = read_profile(outs[".pb.gz"])["comments"]
    assert comments["spyglass.command"] == want, comments


# -- 12.5: the launched program does not outlive spyglass --------------------------------------

def test_program_dies_with_spyglass(python, tmp_path):
    saved = str(tmp_path / "saved")
    prof = start_in_session(["-o", str(tmp_path / "x.folded"), "--", python,
                             os.path.join(WORKLOADS, "interrupted.py"), saved], saved)
    child = int(open("/proc/%d/task/%d/children" % (prof.pid, prof.pid)).read().split()[0])
    prof.kill()
    prof.wait(timeout=10)
    try:
        wait_for(lambda: not alive(child), timeout=10, what="the orphan to die")
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)


# -- 12.6: pid reuse ---------------------------------------------------------------------------

REUSE_DRIVER = r"""
import os, signal, subprocess, sys, time
spyglass, python, workload, out = sys.argv[1:5]
intruder_code = "def intruder():\n    while True: sum(i * i for i in range(1000))\nintruder()"
target = subprocess.Popen([python, workload, "30"])
time.sleep(1)
prof = subprocess.Popen([spyglass, "record", "-r", "100", "-d", "30", "-o", out,
                         "--pid", str(target.pid)], stderr=subprocess.PIPE)
time.sleep(1.5)
# Stopped, spyglass cannot see the target go; the pid then names an unrelated Python.
prof.send_signal(signal.SIGSTOP)
target.kill()
target.wait()
with open("/proc/sys/kernel/ns_last_pid", "w") as f:
    f.write(str(target.pid - 1))
intruder = subprocess.Popen([python, "-c", intruder_code])
assert intruder.pid == target.pid, (intruder.pid, target.pid)
time.sleep(1)
prof.send_signal(signal.SIGCONT)
time.sleep(1.5)
prof.send_signal(signal.SIGINT)
_, err = prof.communicate(timeout=30)
intruder.kill()
sys.stderr.write(err.decode())
sys.exit(prof.returncode)
"""


def test_pid_reuse_is_noticed(python, tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare (a pid namespace of our own)")
    driver = tmp_path / "driver.py"
    driver.write_text(REUSE_DRIVER)
    out = str(tmp_path / "reuse.folded")
    proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable,
                           str(driver), SPYGLASS, python, os.path.join(WORKLOADS, "cpu_split.py"),
                           out], stderr=subprocess.PIPE, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "exited after" in err and "(its pid now names another process)" in err, err
    with open(out) as f:
        stacks = parse_folded(f.read())
    names = {frame_name(f) for s in stacks for f in s}
    assert "alpha" in names and "intruder" not in names, names


CHILD_REUSE_DRIVER = r"""
import os, signal, subprocess, sys, time
spyglass, python, workload, out = sys.argv[1:5]
intruder_code = "def intruder():\n    while True: sum(i * i for i in range(1000))\nintruder()"
parent_code = ("import subprocess, sys, time\n"
               "subprocess.Popen([sys.executable, %r, '30']).wait()\n"
               "time.sleep(30)\n" % workload)
parent = subprocess.Popen([python, "-c", parent_code])
time.sleep(1)
with open("/proc/%d/task/%d/children" % (parent.pid, parent.pid)) as f:
    child = int(f.read().split()[0])
prof = subprocess.Popen([spyglass, "record", "-r", "100", "-d", "30", "-o", out, "--subprocesses",
                         "--pid", str(parent.pid)], stderr=subprocess.PIPE)
time.sleep(1.5)
# Stopped, spyglass cannot see the child go; its pid then names a process
# that is no descendant of the target.
prof.send_signal(signal.SIGSTOP)
os.kill(child, signal.SIGKILL)
time.sleep(0.5)  # the parent reaps it
with open("/proc/sys/kernel/ns_last_pid", "w") as f:
    f.write(str(child - 1))
intruder = subprocess.Popen([python, "-c", intruder_code])
assert intruder.pid == child, (intruder.pid, child)
time.sleep(1)
prof.send_signal(signal.SIGCONT)
time.sleep(1.5)
prof.send_signal(signal.SIGINT)
_, err = prof.communicate(timeout=30)
intruder.kill()
parent.kill()
sys.stderr.write(err.decode())
sys.exit(prof.returncode)
"""


def test_child_pid_reuse_is_noticed(python, tmp_path):
    """12.6 for a descendant: a child followed with --subprocesses exits
    and its pid names an unrelated process; spyglass drops the child at
    its start time's mismatch, and never samples the newcomer."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare (a pid namespace of our own)")
    driver = tmp_path / "driver.py"
    driver.write_text(CHILD_REUSE_DRIVER)
    out = str(tmp_path / "reuse.folded")
    proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable,
                           str(driver), SPYGLASS, python, os.path.join(WORKLOADS, "cpu_split.py"),
                           out], stderr=subprocess.PIPE, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    with open(out) as f:
        stacks = parse_folded(f.read())
    names = {frame_name(f) for s in stacks for f in s}
    assert "alpha" in names and "intruder" not in names, (names, err)


# -- 12.7: a process whose main thread exited --------------------------------------------------

def leader_is_zombie(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_attach_after_main_thread_exit(python):
    target = start(python, "main_thread_exits.py", 8, settle=0.1)
    try:
        wait_for(lambda: leader_is_zombie(target.pid), what="the main thread to exit")
        run = record(["-r", RATE, "-d", "1.5"], pid=target.pid)
    finally:
        stop(target)
    assert run.status == 0, run.stderr
    assert run.samples_with("burn_in_thread") > 100, (run.stacks, run.stderr)


def test_launched_main_thread_exit(python):
    began = time.time()
    run = record(["-r", RATE], "main_thread_exits.py", [2], python)
    assert run.status == 0, run.stderr
    assert time.time() - began >= 2  # followed until the last thread ended
    # ~2 s of one busy thread at 250 Hz: ~500; a fifth for a loaded machine.
    assert run.samples_with("burn_in_thread") > 100, (run.stacks, run.stderr)


# -- 12.12: ticks kept and missed add up -------------------------------------------------------

def test_ticks_add_up_after_spyglass_was_stopped(tmp_path):
    python = next(iter(INTERPRETERS.values()), sys.executable)
    out = str(tmp_path / "x.folded")
    prof = subprocess.Popen([SPYGLASS, "record", "--mode", "wall", "-r", "200", "-d", "3", "-o",
                             out, "--", python, "-c", "import time; time.sleep(30)"],
                            stderr=subprocess.PIPE)
    time.sleep(1)
    prof.send_signal(signal.SIGSTOP)
    time.sleep(3)  # beyond the end of the duration
    prof.send_signal(signal.SIGCONT)
    _, err = prof.communicate(timeout=30)
    err = err.decode()
    assert prof.returncode == 0, err
    wall = float(re.search(r"over ([\d.]+) s", err).group(1))
    asked, achieved, missed, ticks = re.search(
        r"asked ([\d.]+) Hz, achieved ([\d.]+) Hz \((\d+) of (\d+) ticks missed\)", err).groups()
    missed, ticks, kept = int(missed), int(ticks), int(ticks) - int(missed)
    assert abs(ticks - 200 * wall) <= 2, err     # every period of the run, kept or missed
    assert abs(float(achieved) - kept / wall) <= 0.15, err
    assert missed >= 200 * 2.5, err              # the 3 s stopped were missed
