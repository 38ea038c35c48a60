# SPDX-License-Identifier: MIT
"""spyglass dump: every thread's stack now, with its name, tid, GIL, kernel
state and the system call it waits in; --json; --subprocesses."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import SPYGLASS, TIMEOUT, WORKLOADS, _version_of

# The system call time.sleep waits in: clock_nanosleep from 3.11 on,
# select before (glibc may make select a pselect6).
SLEEP_CALLS_311 = {"clock_nanosleep"}
SLEEP_CALLS_OLD = {"select", "pselect6"}


def dump(*args):
    proc = subprocess.run([SPYGLASS, "dump"] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=TIMEOUT)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), stderr


def start_waiters(python, *args):
    """Start waiters.py and wait for the line saying its threads started."""
    proc = subprocess.Popen([python, os.path.join(WORKLOADS, "waiters.py")] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    return proc, json.loads(line.decode())


def kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait(timeout=10)


def innermost(thread):
    return thread["frames"][-1]["function"] if thread["frames"] else None


def task_states(pid):
    """The scheduler state letter of each thread of pid."""
    states = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            states[int(tid)] = f.read().rsplit(")", 1)[1].split()[0]
    return states


def expected(version):
    """Per thread name: (innermost function, the system calls it may wait in)."""
    sleep = SLEEP_CALLS_311 if tuple(map(int, version.split("."))) >= (3, 11) else SLEEP_CALLS_OLD
    return {
        "locked-1": ("wait_for_lock", {"futex"}),
        "sleeper-1": ("sleep_here", sleep),
        "reader-1": ("read_pipe", {"read"}),
        "spinner-1": ("spin_here", {"running"}),
    }


def settled(doc, want):
    """Whether each thread is where it settles: a thread just started may
    still be on its way into its wait (the machine is busy)."""
    threads = {t["name"]: t for t in doc["processes"][0]["threads"]}
    return all(name in threads and innermost(threads[name]) == fn and
               threads[name]["syscall"] in calls and
               threads[name]["state"] == ("R" if "running" in calls else "S") and
               # Now and then a dump sees no GIL holder at all (once in
               # some 50 versions' dumps here): waited for like the rest.
               threads[name]["gil"] == ("running" in calls)
               for name, (fn, calls) in want.items())


def dump_settled(pid, want, *args):
    """dump --json until every thread is where it settles, within 30 s (on an
    idle machine the first dump is)."""
    deadline = time.time() + 30
    while True:
        status, out, err = dump("--json", "--pid", pid, *args)
        assert status == 0, err
        doc = json.loads(out)
        if settled(doc, want) or time.time() > deadline:
            return doc
        time.sleep(0.2)


def test_dump_threads_functions_and_waits(python):
    """Issue 6: a lock acquire shows futex, time.sleep clock_nanosleep (select
    before 3.11), a pipe read read; each thread named, with its tid, and the
    one on a CPU running and holding the GIL."""
    version = _version_of(python)
    proc, ready = start_waiters(python)
    try:
        want = expected(version)
        doc = dump_settled(proc.pid, want)
        (p,) = doc["processes"]
        assert p["pid"] == proc.pid and p["error"] is None
        assert p["python"].startswith(version + "."), p["python"]
        assert "waiters.py" in p["command"]
        threads = {t["name"]: t for t in p["threads"]}
        assert set(threads) == set(want) | {"MainThread"}, sorted(threads)
        for name, (fn, calls) in want.items():
            t = threads[name]
            assert innermost(t) == fn, (name, t["frames"])
            assert t["syscall"] in calls, (name, t["syscall"], calls)
            assert t["frames"][-1]["file"].endswith("waiters.py"), t["frames"][-1]
            assert t["error"] is None and t["omitted"] == 0
        assert innermost(threads["MainThread"]) == "main"
        assert [t["name"] for t in p["threads"]][0] == "MainThread"  # oldest first
        # Only the thread on a CPU holds the GIL; the others wait for other things.
        assert [n for n, t in threads.items() if t["gil"]] == ["spinner-1"]
        assert threads["spinner-1"]["state"] == "R"
        if ready["tids"]:  # 3.8+: the tids the threads told us
            assert {n: t["tid"] for n, t in threads.items()} == ready["tids"]
        else:
            assert all(t["tid"] in task_states(proc.pid) for t in threads.values())

        # The text form says the same, as tracebacks, innermost call last.
        status, out, err = dump("--pid", proc.pid)
        assert status == 0 and not err, err
        assert out.startswith("Process %d: " % proc.pid), out
        for name, (fn, _) in want.items():
            block = out.split('"%s"' % name, 1)[1].split("\n\n", 1)[0]
            assert "Traceback (most recent call last):\n" in block, block
            assert block.rstrip("\n").endswith(", in %s" % fn), block
        assert 'waiting in futex' in out.split('"locked-1"', 1)[1].split("\n", 1)[0]
        assert 'waiting in read' in out.split('"reader-1"', 1)[1].split("\n", 1)[0]
        assert '"spinner-1" (holds the GIL): running (R)' in out, out

        # Never stopped: every thread is still running or sleeping as it was.
        assert all(s in "RS" for s in task_states(proc.pid).values()), task_states(proc.pid)
        with open("/proc/%d/status" % proc.pid) as f:
            assert "TracerPid:\t0\n" in f.read()
        assert proc.poll() is None
    finally:
        kill(proc)


def test_dump_subprocesses(python):
    """--subprocesses: the target and each descendant that runs CPython, the
    shell between them left out."""
    shell = "exec %s %s 60 & %s %s 60; wait" % (
        python, os.path.join(WORKLOADS, "waiters.py"), python, os.path.join(WORKLOADS, "waiters.py"))
    # The target is a python whose child is a shell whose children are pythons.
    parent = subprocess.Popen([python, "-c",
                               "import subprocess, sys, time\n"
                               "subprocess.Popen(['sh', '-c', sys.argv[1]])\n"
                               "print('started')\n"
                               "sys.stdout.flush()\n"
                               "time.sleep(60)\n", shell],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        # Dumped before its interpreter is up, the target would be refused.
        assert parent.stdout.readline() == b"started\n", parent.stderr.read()
        deadline = time.time() + 30
        while True:
            status, out, err = dump("--json", "--subprocesses", "--pid", parent.pid)
            assert status == 0, err
            doc = json.loads(out)
            kids = doc["processes"][1:]
            if (len(kids) == 2 and
                    all(any(innermost(t) == "spin_here" for t in k["threads"]) for k in kids)):
                break
            assert time.time() < deadline, out
            time.sleep(0.2)
        assert doc["processes"][0]["pid"] == parent.pid
        assert all("waiters.py" in k["command"] and k["error"] is None for k in kids), kids
        assert len({k["pid"] for k in kids}) == 2
        # Without the option, the target alone.
        status, out, err = dump("--json", "--pid", parent.pid)
        assert status == 0 and len(json.loads(out)["processes"]) == 1, out
    finally:
        kill(parent)


def assert_one_line_error(status, stderr, *words):
    assert status > 0, (status, stderr)
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("spyglass: "), stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_dump_no_such_pid():
    status, out, err = dump("--pid", 4194300)
    assert_one_line_error(status, err, "no process")
    assert out == ""


def test_dump_not_python():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        status, out, err = dump("--pid", sleeper.pid)
        assert_one_line_error(status, err, "not running CPython")
        assert out == "" and sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("args, words", [
    ([], "give --pid"),
    (["--pid", "abc"], "--pid"),
    (["--pid", "1", "extra"], "unexpected argument"),
    (["--bogus"], "unknown"),
])
def test_dump_bad_usage(args, words):
    status, out, err = dump(*args)
    assert status == 2 and out == "", (status, out)
    assert_one_line_error(status, err, words)


def test_dump_locals(python):
    """Issue 6: --locals shows each frame's arguments and locals as the
    target's own repr() would, for str, bytes, int of any size, float, bool
    and None, and type name plus length for containers, on every CPython."""
    proc, ready = start_waiters(python)
    try:
        doc = dump_settled(proc.pid, expected(_version_of(python)), "--locals")
        threads = {t["name"]: t for t in doc["processes"][0]["threads"]}
        r = ready["reprs"]
        want = {
            "locked-1": {"lock": None, "seconds": ready["seconds"], "answer": r["answer"],
                         "label": r["label"]},
            # ratio is a cell (a lambda keeps it): shown by its content.
            "sleeper-1": {"seconds": ready["seconds"], "ratio": r["ratio"],
                          "items": "<list of 3>", "keep": "<function object>"},
            "reader-1": {"fd": ready["fd"], "big": r["big"], "neg": r["neg"], "data": r["data"],
                         "flag": r["flag"], "nothing": r["nothing"], "pair": "<tuple of 2>",
                         "members": "<set of 3>"},
            "spinner-1": {"end": None, "count": None, "mapping": "<dict of 2>"},
        }
        arguments = {"lock", "seconds", "fd", "end"}
        for name, values in want.items():
            frame = threads[name]["frames"][-1]
            assert frame["locals_error"] is None, frame
            got = dict((l["name"], l) for l in frame["locals"])
            assert sorted(got) == sorted(values), (name, frame["locals"])
            # Arguments come first, in the code's order, and say so.
            assert [l["argument"] for l in frame["locals"]] == sorted(
                (l["name"] in arguments for l in frame["locals"]), reverse=True), frame["locals"]
            for local, value in values.items():
                assert got[local]["argument"] == (local in arguments), got[local]
                if value is not None:
                    assert got[local]["value"] == value, (name, local, got[local], value)
        assert threads["locked-1"]["frames"][-1]["locals"][0]["value"].endswith("lock object>")
        assert int(dict((l["name"], l["value"]) for l in
                        threads["spinner-1"]["frames"][-1]["locals"])["count"]) > 0
        # Outer frames have theirs too: Thread.run's self.
        run = [f for f in threads["reader-1"]["frames"] if f["function"].endswith("run")][0]
        assert [(l["name"], l["argument"]) for l in run["locals"]] == [("self", True)], run

        # Text: one line per local under its frame.
        status, out, err = dump("--locals", "--pid", proc.pid)
        assert status == 0 and not err, err
        block = out.split('"reader-1"', 1)[1].split("\n\n", 1)[0]
        assert "    big = %s\n" % r["big"] in block, block
        assert "    fd = %s  (argument)\n" % ready["fd"] in block, block
        # Without --locals, none.
        status, out, err = dump("--json", "--pid", proc.pid)
        assert all("locals" not in f for t in json.loads(out)["processes"][0]["threads"]
                   for f in t["frames"])
        assert proc.poll() is None
    finally:
        kill(proc)


def test_dump_fast_changing_stack(python):
    """Issue 6: a stack that changes under every read (calls pushed and
    popped all the time) is walked until two walks agree on its root: what
    is shown starts at <module> and goes down main, work; else the thread
    says it could not be read. Twenty dumps, each with --locals."""
    proc = subprocess.Popen([python, os.path.join(WORKLOADS, "callheavy.py"), "100000000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        shown = 0
        deadline = time.time() + 60
        while shown < 20 and time.time() < deadline:
            status, out, err = dump("--json", "--locals", "--pid", proc.pid)
            if status != 0:  # not started yet: refused in one line
                assert "interpreter" in err or "CPython" in err, err
                time.sleep(0.1)
                continue
            (t,) = json.loads(out)["processes"][0]["threads"]
            if t["error"]:
                assert "changed under every walk" in t["error"], t
                continue
            names = [f["function"] for f in t["frames"]]
            if not shown and "work" not in names:  # still starting (imports)
                continue
            shown += 1
            assert names[:3] == ["<module>", "main", "work"], names
            assert set(names[3:]) <= {"add", "fold"}, names
        assert shown == 20, "only %d whole stacks in 60 s" % shown
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_dump_says_which_thread_could_not_be_read(python):
    """Issue 6: a thread whose stack no walk can read is listed with the
    reason instead of frames, the other threads as usual, exit status 0.
    broken_stack.py makes it so for good (not by chance): broken-1 points
    the link from its innermost frame to its caller back at that frame, so
    every walk meets a loop (the walker's cycle check) on every attempt;
    its name, tid, state and wait are read as for any thread."""
    version = _version_of(python)
    proc = subprocess.Popen([python, os.path.join(WORKLOADS, "broken_stack.py"), "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        ready = json.loads(line.decode())
        assert ready["offset"] is not None, "the frame link was not where expected: %s" % ready
        status, out, err = dump("--json", "--pid", proc.pid)
        assert status == 0, err
        (p,) = json.loads(out)["processes"]
        assert p["error"] is None
        threads = {t["name"]: t for t in p["threads"]}
        assert set(threads) == {"MainThread", "broken-1"}, sorted(threads)
        broken, main = threads["broken-1"], threads["MainThread"]
        assert broken["error"] == "changed under every walk", broken
        assert broken["frames"] == [], broken["frames"]
        new = tuple(map(int, version.split("."))) >= (3, 11)
        sleep = SLEEP_CALLS_311 if new else SLEEP_CALLS_OLD
        assert broken["state"] == "S" and broken["syscall"] in sleep, broken
        assert not broken["gil"]
        # The readable thread is not spoilt by the other.
        assert main["error"] is None and innermost(main) == "main", main
        assert [f["function"] for f in main["frames"]] == ["<module>", "main"], main["frames"]
        if ready["tids"]:
            assert {n: t["tid"] for n, t in threads.items()} == ready["tids"]

        status, out, err = dump("--pid", proc.pid)
        assert status == 0 and not err, err
        block = out.split('"broken-1"', 1)[1].split("\n\n", 1)[0]
        assert block.split("\n")[1] == \
            "  (its stack could not be read: it changed under every walk)", block
        assert "Traceback" not in block, block
        main_block = out.split('"MainThread"', 1)[1].split("\n\n", 1)[0]
        assert main_block.rstrip("\n").endswith(", in main"), main_block
        assert proc.poll() is None
    finally:
        kill(proc)
