# SPDX-License-Identifier: MIT
"""spyglass agent, store check and query, against real processes.

Every workload carries a marker on its command line that the agent is told to
--match, so that other Python processes on the machine stay out of the way.
"""
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import (DEBIAN, SPYGLASS, SVG, WORKLOADS, fill, frame_name, parse_folded,
                      svg_frames, tolerance)

PYTHON = DEBIAN or sys.executable
MARK = "agent-test-%d" % os.getpid()


def spyglass(*args, **kw):
    proc = subprocess.run([SPYGLASS] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=kw.pop("timeout", 120), **kw)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert "Sanitizer" not in err and "runtime error" not in err, err
    return proc.returncode, out, err


class Agent(object):
    def __init__(self, tmp_path, *args, **kw):
        self.log = open(str(tmp_path / "agent.log"), "w+")
        self.proc = subprocess.Popen(list(kw.get("prefix", [])) + [SPYGLASS, "agent"] + list(args),
                                     stdout=subprocess.DEVNULL, stderr=self.log,
                                     env=dict(os.environ, **kw.get("env", {})))

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        assert "Sanitizer" not in text and "runtime error" not in text, text
        return self.proc.returncode, text


def workload(tmp_path, name, *args, **kw):
    """Start tests/workloads/NAME with args and the marker; truth to tmp_path."""
    workload.started += 1
    truth = tmp_path / ("%s-%d.truth.json" % (name, workload.started))
    env = dict(os.environ, SPYGLASS_TRUTH=str(truth), **kw.get("env", {}))
    cmd = list(kw.get("prefix", [])) + [PYTHON, os.path.join(WORKLOADS, name)]
    proc = subprocess.Popen(cmd + [str(a) for a in args] + [MARK], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.truth = truth
    return proc


workload.started = 0


def truth_of(proc):
    assert proc.wait(timeout=60) == 0
    return json.loads(proc.truth.read_text())


def series(store):
    """The store's series: [(mode, windows, samples, {label: value})]."""
    status, out, err = spyglass("query", store, "--list")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["mode", "from", "to", "windows", "samples"]
    found = []
    for line in lines[1:]:
        mode, _, _, windows, samples, labels = line.split(None, 5)
        found.append((mode, int(windows), int(samples),
                      dict(kv.split("=", 1) for kv in labels.split(","))))
    return found


def query(store, *args):
    """The merged profile as collapsed stacks."""
    status, out, err = spyglass("query", store, "-f", "collapsed", "-o", "-", *args)
    assert status == 0, err
    return parse_folded(out)


def share(stacks, name, among):
    total = sum(n for s, n in stacks.items() if any(frame_name(f) in among for f in s))
    mine = sum(n for s, n in stacks.items() if any(frame_name(f) == name for f in s))
    return mine / float(total) if total else 0.0, total


def assert_shares(stacks, truth, names):
    cpu = truth["cpu"]
    for name in names:
        want = cpu[name] / sum(cpu[k] for k in names)
        got, n = share(stacks, name, names)
        assert n > 50, stacks
        assert abs(got - want) <= tolerance(want, n), (name, got, want, n)


def rfc3339(unix_s):
    return datetime.datetime.utcfromtimestamp(unix_s).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="needs root and unshare (namespaces of our own)")


@needs_root
def test_agent_on_several_workloads(tmp_path):
    """A CPU split and a threaded program started before the agent, a split
    started after it, one in new mount and PID namespaces: each gets its
    windows, with its labels, and its query its own shares."""
    store = str(tmp_path / "s.db")
    split = workload(tmp_path, "cpu_split.py", 7, env={"APP_VERSION": "1.4"})
    threads = workload(tmp_path, "threads.py", 7)
    time.sleep(0.5)
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "100",
                  "--label", "env=test", "--label-from-env", "APP_VERSION")
    time.sleep(1.5)
    late = workload(tmp_path, "cpu_split.py", 5)
    # unshare matches too (its command line has the marker) but is not Python.
    contained = workload(tmp_path, "cpu_split.py", 5,
                         prefix=["unshare", "--mount", "--pid", "--fork"])
    truths = {name: truth_of(p) for name, p in
              [("split", split), ("threads", threads), ("late", late), ("contained", contained)]}
    time.sleep(1.5)  # the windows in flight end
    status, log = agent.stop()
    assert status == 0 and log == "", log
    found = series(store)
    by_pid = {}
    for mode, windows, samples, labels in found:
        by_pid.setdefault(labels["pid"], {})[mode] = (windows, samples, labels)
    host = socket.gethostname()
    for name, truth in truths.items():
        # The contained one says its pid in its own namespace (1 or 2).
        pid = str(truth["pid"])
        if name == "contained":
            pids = [p for p, m in by_pid.items() if m["cpu"][2]["command"].endswith(" 5 " + MARK)
                    and p not in (str(truths["late"]["pid"]),)]
            assert len(pids) == 1, by_pid
            pid = pids[0]
        assert set(by_pid[pid]) == {"cpu", "wall"}, (name, by_pid[pid])
        windows, samples, labels = by_pid[pid]["wall"]
        assert windows >= 3 and samples > 0, (name, by_pid[pid])
        assert labels["host"] == host and labels["env"] == "test", labels
        assert labels["python"] == truth["python"], labels
        assert labels["service"] == ("threads" if name == "threads" else "cpu_split"), labels
        assert labels.get("APP_VERSION") == ("1.4" if name == "split" else None), labels
        stacks = query(store, "--where", "pid=%s" % pid)
        if name == "threads":
            # wait_here idles: in wall mode only.
            wall = query(store, "--where", "pid=%s,mode=wall" % pid)
            waits = sum(n for s, n in wall.items() if any(frame_name(f) == "wait_here" for f in s))
            on_cpu = sum(n for s, n in stacks.items()
                         if any(frame_name(f) == "wait_here" for f in s))
            # It blocks in Event.wait for the whole run: a sample or two on
            # CPU at most, as it starts to wait.
            assert waits > 100 and on_cpu <= 2, (waits, on_cpu)
        else:
            assert_shares(stacks, truth, ("alpha", "beta", "gamma"))
    # The unshare process itself is not Python: never a series.
    assert not any("unshare" in labels["command"] for _, _, _, labels in found)
    status, out, err = spyglass("store", "check", store)
    assert status == 0 and out.startswith(store + ": ok, "), err


def test_phase_query(tmp_path):
    """A program that changes behaviour halfway: a query of either half
    shows only that half's function."""
    store = str(tmp_path / "s.db")
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "100")
    phases = workload(tmp_path, "phases.py", 8)
    truth = truth_of(phases)
    time.sleep(1.5)
    status, log = agent.stop()
    assert status == 0, log
    switch = truth["switch_unix"]
    # Windows are 1 s long: 1.5 s from the switch leaves every window that
    # overlaps the range on one side of it.
    after = query(store, "--from", rfc3339(switch + 1.5))
    before = query(store, "--to", rfc3339(switch - 1.5))
    names_after = {frame_name(f) for s in after for f in s}
    names_before = {frame_name(f) for s in before for f in s}
    assert "after" in names_after and "before" not in names_after, after
    assert "before" in names_before and "after" not in names_before, before
    assert sum(after.values()) > 100 and sum(before.values()) > 100
    # Relative times: everything is newer than an hour ago, nothing newer than now.
    assert sum(query(store, "--from", "-1h").values()) >= sum(after.values()) + sum(
        before.values())
    # The two halves as a diff of two time ranges: before went, after came.
    status, out, err = spyglass("diff", store, "--base", "to=" + rfc3339(switch - 1.5), "--new",
                                "from=" + rfc3339(switch + 1.5), "--focus", "^(before|after)$",
                                "-f", "json")
    assert status == 0, err
    # Total shares: the two call spin, where their self time is.
    rows = {r["key"].split(" ")[0]: r["total"] for r in json.loads(out)["rows"]}
    assert rows["before"]["significant"] and rows["before"]["change"] < -90, rows
    assert rows["after"]["significant"] and rows["after"]["change"] > 90, rows
    status, _, err = spyglass("query", store, "--from", "now", "-o", "-")
    assert status == 1 and err.count("\n") == 1 and "no cpu windows" in err, err


def test_kill_9_mid_window_loses_only_that_window(tmp_path):
    """kill -9 of the agent while it samples: the store checks sound and
    every window written before is there and reads back."""
    store = str(tmp_path / "s.db")
    busy = workload(tmp_path, "cpu_split.py", 6)
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "0.5", "-r", "200")
    time.sleep(3.3)  # six windows written, the seventh in flight
    agent.proc.kill()
    agent.proc.wait(timeout=10)
    busy.kill()
    busy.wait()
    status, out, err = spyglass("store", "check", store)
    assert status == 0, err
    found = series(store)
    cpu = [s for s in found if s[0] == "cpu"]
    assert len(cpu) == 1 and cpu[0][1] >= 4, found
    # Every window reads, merged: as many samples as the rows say.
    stacks = query(store)
    assert sum(stacks.values()) == cpu[0][2]


def test_bad_stores_one_line(tmp_path):
    not_store = tmp_path / "notes.txt"
    not_store.write_text("meeting notes, not a database\n" * 10)
    cases = [
        (str(not_store), "is not a spyglass store"),
        (str(tmp_path / "missing" / "s.db"), "No such file or directory"),
        (str(tmp_path), "is not a spyglass store (not a regular file)"),
    ]
    for path, words in cases:
        status, _, err = spyglass("agent", "--store", path, "--match", MARK)
        assert status == 1 and err.count("\n") == 1 and words in err, (path, err)
        status, _, err = spyglass("store", "check", path)
        assert status == 1 and err.count("\n") == 1 and words in err, (path, err)
        status, _, err = spyglass("query", path, "--list")
        assert status == 1 and err.count("\n") == 1 and words in err, (path, err)
    status, _, err = spyglass("agent", "--match", MARK)
    assert status == 2 and "--store" in err and err.count("\n") == 1
    status, _, err = spyglass("query", str(not_store), "--from", "yesterday", "--list")
    assert status == 2 and "--from" in err and err.count("\n") == 1


@needs_root
def test_read_only_and_full_disk(tmp_path):
    """A read-only file system: one line, at once. A full one: one line,
    sampling goes on, and windows are stored again once there is room."""
    ro = tmp_path / "ro"
    ro.mkdir()
    script = "mount -t tmpfs -o ro none %s && exec %s agent --store %s/s.db --match %s" % (
        ro, SPYGLASS, ro, MARK)
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", script], stderr=subprocess.PIPE,
                          timeout=30)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and "s.db" in err, err
    assert err.startswith("spyglass: ") and "Read-only file system" in err, err

    small = tmp_path / "small"
    small.mkdir()
    busy = workload(tmp_path, "cpu_split.py", 12)
    # A file system of 1 MiB, with a file that leaves ~300 KiB: a few
    # dozen windows of a busy process at 200 Hz fill it.
    script = ("mount -t tmpfs -o size=1m none {d} && head -c 700000 /dev/zero > {d}/filler && "
              "({spy} agent --store {d}/s.db --match {mark} --window 0.25 -r 200 & "
              "sleep 5; rm {d}/filler; sleep 3; kill -TERM $!; wait $!; "
              "{spy} store check {d}/s.db; {spy} query {d}/s.db --list)").format(
                  d=small, spy=SPYGLASS, mark=MARK)
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", script], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)
    busy.kill()
    busy.wait()
    out, err = proc.stdout.decode(), proc.stderr.decode()
    lines = [l for l in err.splitlines() if l]
    # Said once, however many windows were lost.
    assert len(lines) == 1 and "full" in lines[0] and "sampling goes on" in lines[0], err
    assert ": ok, " in out, out
    windows = [int(l.split()[3]) for l in out.splitlines()[2:] if l.startswith("cpu")]
    # At 4 windows a second for 8 s, up to 32; some were lost to the full
    # disk, and some stored after the room was made.
    assert windows and 3 <= windows[0] < 32, out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def test_memory_bounded_by_window_not_run(tmp_path):
    """At 1 kHz on a program whose stacks churn, the agent's RSS after 2
    minutes (120 windows, standing in for hours) is its RSS after 8 s,
    within 25% + 4 MiB (the slack: malloc's arenas and SQLite's page cache
    settle in the first windows). With --retain 40 as a daemon would run
    (the unit file's --retain 7d): a minute in, retention's periodic pass
    removes the windows that ended 40 s before it."""
    store = str(tmp_path / "s.db")
    busy = workload(tmp_path, "churn.py", 140)
    started = time.time()
    # A sanitizer build keeps freed memory in quarantine (256 MiB): that is
    # not ours to bound.
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "1000",
                  "--retain", "40",
                  env={"ASAN_OPTIONS": "quarantine_size_mb=1:thread_local_quarantine_size_kb=64"})
    time.sleep(8)
    short = rss_kib(agent.proc.pid)
    time.sleep(112)
    long_ = rss_kib(agent.proc.pid)
    status, log = agent.stop()
    busy.kill()
    busy.wait()
    assert status == 0, log
    assert long_ <= short * 1.25 + 4096, (short, long_)
    found = series(store)
    assert any(s[0] == "cpu" and s[1] >= 30 for s in found), found
    rows, _ = window_rows(store)
    # The pass at the 60th second (a second apart, so not before 59 s)
    # cut at 19 s or later: the first 18 s of windows are gone, and it
    # went on storing to the end.
    assert min(r[1] for r in rows) >= (started + 15) * 1e9, (min(r[1] for r in rows), started)
    assert max(r[2] for r in rows) >= (started + 110) * 1e9, (max(r[2] for r in rows), started)


def test_diff_between_label_values(tmp_path):
    """Two versions of a program, told apart by a label from their
    environment: the store's diff flags the functions whose split changed
    (alpha 5 -> 2 units, gamma 2 -> 5: 30 points each), and not the one
    that kept its share (beta, 3 of 10 units in both)."""
    store = str(tmp_path / "s.db")
    # 200 Hz of the CPU each gets: ~400 samples a side when they share a
    # core, which a loaded machine halves (a run at 100 Hz had too few to
    # mark alpha's move).
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "200",
                  "--label-from-env", "APP_VERSION")
    old = workload(tmp_path, "work_split.py", 5, 5, 3, 2, env={"APP_VERSION": "1.4"})
    new = workload(tmp_path, "work_split.py", 5, 2, 3, 5, env={"APP_VERSION": "1.5"})
    truth_of(old)
    truth_of(new)
    time.sleep(1.5)
    status, log = agent.stop()
    assert status == 0, log
    status, out, err = spyglass("diff", store, "--base", "APP_VERSION=1.4", "--new",
                                "APP_VERSION=1.5", "--focus", "^(alpha|beta|gamma)$", "-f",
                                "json")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["base"]["file"] == "APP_VERSION=1.4" and doc["new"]["file"] == "APP_VERSION=1.5"
    rows = {r["key"].split(" ")[0]: r["self"] for r in doc["rows"]}
    # Each side has ~400 samples: a 30-point move is far past the test's
    # reach (about 8 points at alpha 0.01 after Holm), and beta's change is
    # noise unless 1 in 100 runs.
    assert rows["alpha"]["significant"] and rows["alpha"]["change"] < -15, rows
    assert rows["gamma"]["significant"] and rows["gamma"]["change"] > 15, rows
    assert not rows["beta"]["significant"], rows
    status, _, err = spyglass("diff", store, "--base", "APP_VERSION=1.3", "--new",
                              "APP_VERSION=1.5")
    assert status == 1 and err.count("\n") == 1 and "no cpu windows" in err, err
    status, _, err = spyglass("diff", store, "--base", "APP_VERSION=1.4")
    assert status == 2 and err.count("\n") == 1, err


def tasks(pid):
    """The threads of pid: the agent's are its main thread and one sampler
    per process followed."""
    return len(os.listdir("/proc/%d/task" % pid))


def by_pid(found):
    """{pid: {mode: (windows, samples, labels)}} of series(store)."""
    pids = {}
    for mode, windows, samples, labels in found:
        pids.setdefault(int(labels["pid"]), {})[mode] = (windows, samples, labels)
    return pids


def wait_for(what, timeout=20, every=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = what()
        if got:
            return got
        time.sleep(every)
    return what()


def test_pids_and_service(tmp_path):
    """--pid twice: windows for exactly those two processes (a third that
    runs alongside, with the same marker, gets none), each labelled with
    --service; once both exit the agent lets them go (their sampler
    threads are joined) and goes on."""
    store = str(tmp_path / "s.db")
    one = workload(tmp_path, "cpu_split.py", 4)
    two = workload(tmp_path, "cpu_split.py", 4)
    other = workload(tmp_path, "cpu_split.py", 6)
    agent = Agent(tmp_path, "--store", store, "--pid", str(one.pid), "--pid", str(two.pid),
                  "--service", "web", "--window", "1", "-r", "50")
    # Its main thread and a sampler for each of the two.
    assert wait_for(lambda: tasks(agent.proc.pid) == 3, timeout=10), tasks(agent.proc.pid)
    truth_of(one)
    truth_of(two)
    # Both exited: their samplers are let go within a second or two.
    assert wait_for(lambda: tasks(agent.proc.pid) == 1, timeout=10), tasks(agent.proc.pid)
    assert agent.proc.poll() is None
    truth_of(other)
    status, log = agent.stop()
    assert status == 0 and log == "", log
    pids = by_pid(series(store))
    assert set(pids) == {one.pid, two.pid}, pids
    for pid in (one.pid, two.pid):
        assert set(pids[pid]) == {"cpu", "wall"}, pids[pid]
        windows, samples, labels = pids[pid]["cpu"]
        assert windows >= 2 and samples > 50, pids[pid]
        assert labels["service"] == "web" and labels["python"], labels
        assert labels["command"].endswith("cpu_split.py 4 " + MARK), labels


def series_sql(store):
    """series(store), read with SQL: [(mode, windows, samples, {label: value})]."""
    import sqlite3
    db = sqlite3.connect("file:%s?mode=ro" % store, uri=True)
    try:
        found = []
        for sid, mode, windows, samples in db.execute(
                "SELECT series, mode, count(*), sum(samples) FROM windows GROUP BY series, mode"):
            labels = dict(db.execute("SELECT key, value FROM labels WHERE series = ?", (sid,)))
            found.append((mode, windows, samples, labels))
    finally:
        db.close()
    return found


def test_all_python_finds_a_later_process_not_sleep(tmp_path):
    """--all-python takes on a CPython process started after the agent and
    leaves a non-Python one (sleep) alone. Other Python processes on the
    machine are taken on too: only the test's own are looked at."""
    store = str(tmp_path / "s.db")
    sleeper = subprocess.Popen(["sleep", "30"])
    agent = Agent(tmp_path, "--store", store, "--all-python", "--window", "1", "-r", "50")
    try:
        time.sleep(1.5)
        late = workload(tmp_path, "cpu_split.py", 4)
        truth = truth_of(late)
        time.sleep(1.5)
    finally:
        status, log = agent.stop()
        sleeper.kill()
        sleeper.wait()
    assert status == 0, log
    # Whatever else it met, nothing about the test's processes.
    assert str(late.pid) not in log and str(sleeper.pid) not in log, log
    # Not series(): other processes' command lines may hold a ',' or '='.
    pids = by_pid(series_sql(store))
    assert sleeper.pid not in pids, pids[sleeper.pid]
    assert set(pids.get(late.pid, {})) == {"cpu", "wall"}, sorted(pids)
    windows, samples, labels = pids[late.pid]["cpu"]
    assert windows >= 2 and samples > 50, pids[late.pid]
    assert labels["service"] == "cpu_split" and labels["python"] == truth["python"], labels
    assert_shares(query(store, "--where", "pid=%d" % late.pid), truth, ("alpha", "beta", "gamma"))


def test_exec_into_python_is_taken_on(tmp_path):
    """A shell that sleeps, then execs CPython: found not to be Python at
    first, probed again after its exec, by --pid and by --match alike;
    its windows are the program's (command, service, python), under the
    shell's pid. Once it exits it is let go."""
    store = str(tmp_path / "s.db")
    script = os.path.join(WORKLOADS, "cpu_split.py")

    def shell(mark):
        return subprocess.Popen(["sh", "-c", "sleep 1.5; exec %s %s 3 %s" % (PYTHON, script, mark)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    by_pid_ = shell(MARK + "-pid")
    by_match = shell(MARK + "-match")
    agent = Agent(tmp_path, "--store", store, "--pid", str(by_pid_.pid), "--match",
                  MARK + "-match", "--window", "1", "-r", "50")
    # Both followed while they run CPython...
    assert wait_for(lambda: tasks(agent.proc.pid) == 3, timeout=10), tasks(agent.proc.pid)
    assert by_pid_.wait(timeout=60) == 0 and by_match.wait(timeout=60) == 0
    # ...and let go once they exit.
    assert wait_for(lambda: tasks(agent.proc.pid) == 1, timeout=10), tasks(agent.proc.pid)
    status, log = agent.stop()
    assert status == 0, log
    # The --pid one's first look (a shell) is said, once; nothing else.
    lines = log.splitlines()
    assert len(lines) <= 1, log
    assert all(l.startswith("spyglass: pid %d: " % by_pid_.pid) and "not running CPython" in l
               for l in lines), log
    pids = by_pid(series(store))
    assert set(pids) == {by_pid_.pid, by_match.pid}, pids
    for proc, mark in ((by_pid_, MARK + "-pid"), (by_match, MARK + "-match")):
        assert set(pids[proc.pid]) == {"cpu", "wall"}, pids[proc.pid]
        windows, samples, labels = pids[proc.pid]["cpu"]
        assert windows >= 2 and samples > 50, pids[proc.pid]
        assert labels["command"] == "%s %s 3 %s" % (PYTHON, script, mark), labels
        assert labels["service"] == "cpu_split" and labels["python"], labels
        names = {frame_name(f) for s in query(store, "--where", "pid=%d" % proc.pid) for f in s}
        assert {"alpha", "beta", "gamma"} <= names, names


def cgroup_root():
    """A cgroup hierarchy we may make a group in (v2, or v1's pids)."""
    for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup", "/sys/fs/cgroup/pids"):
        if os.path.exists(os.path.join(root, "cgroup.procs")) and os.access(root, os.W_OK):
            return root
    return None


@pytest.mark.skipif(os.geteuid() != 0 or not cgroup_root(),
                    reason="needs root and a cgroup hierarchy to make a container-like group in")
def test_container_label_from_cgroup(tmp_path):
    """A process in a cgroup named as docker names its scopes
    (docker-<64 hex digits>.scope) carries container=<the first 12>; one
    outside it carries none."""
    ident = os.urandom(32).hex()
    group = os.path.join(cgroup_root(), "docker-%s.scope" % ident)
    os.mkdir(group)
    try:
        procs = os.path.join(group, "cgroup.procs")

        def join():
            with open(procs, "w") as f:
                f.write("0")  # this process, before it execs Python

        store = str(tmp_path / "s.db")
        inside = subprocess.Popen([PYTHON, os.path.join(WORKLOADS, "cpu_split.py"), "3", MARK],
                                  preexec_fn=join, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        outside = workload(tmp_path, "cpu_split.py", 3)
        with open("/proc/%d/cgroup" % inside.pid) as f:
            assert ident in f.read()
        agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "50")
        assert inside.wait(timeout=60) == 0 and outside.wait(timeout=60) == 0
        time.sleep(1)
        status, log = agent.stop()
        assert status == 0 and log == "", log
    finally:
        deadline = time.time() + 10
        while True:
            try:
                os.rmdir(group)
                break
            except OSError:
                # Busy until the last process in it is reaped.
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
    pids = by_pid(series(store))
    assert pids[inside.pid]["cpu"][2].get("container") == ident[:12], pids[inside.pid]
    assert pids[inside.pid]["wall"][2].get("container") == ident[:12], pids[inside.pid]
    assert "container" not in pids[outside.pid]["cpu"][2], pids[outside.pid]


def window_rows(store):
    """[(id, start_ns, end_ns)] of the store's windows, and its bytes in use."""
    import sqlite3
    db = sqlite3.connect("file:%s?mode=ro" % store, uri=True)
    try:
        rows = db.execute("SELECT id, start_ns, end_ns FROM windows ORDER BY id").fetchall()
        used = db.execute("PRAGMA page_count").fetchone()[0] - db.execute(
            "PRAGMA freelist_count").fetchone()[0]
        used *= db.execute("PRAGMA page_size").fetchone()[0]
    finally:
        db.close()
    return rows, used


def test_retain_and_max_size_remove_the_oldest(tmp_path):
    """--retain and --max-size on a store that holds windows already (they
    are applied at start, then every minute): --retain 4 removes exactly
    the windows that ended more than 4 s before, --max-size the oldest
    windows until the pages in use fit, and the freed pages go back to the
    file system. Each store checks sound afterwards."""
    store = str(tmp_path / "s.db")
    busy = workload(tmp_path, "churn.py", 7)
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "0.1", "-r", "1000")
    truth_of(busy)
    status, log = agent.stop()
    assert status == 0 and log == "", log
    sized = str(tmp_path / "sized.db")
    shutil.copyfile(store, sized)
    before, _ = window_rows(store)
    assert len(before) >= 60, len(before)
    # Nothing to follow: what it removes is all it does.
    idle = ["--match", "no-such-program-%d" % os.getpid()]

    t0 = time.time()
    agent = Agent(tmp_path, "--store", store, "--retain", "4", *idle)
    after = wait_for(lambda: [r for r in window_rows(store)[0]] if len(window_rows(store)[0]) <
                     len(before) else None, timeout=15)
    t1 = time.time()
    status, log = agent.stop()
    assert status == 0 and log == "", log
    assert after, "nothing removed"
    kept = {r[0] for r in after}
    removed = [r for r in before if r[0] not in kept]
    assert removed and kept, (len(removed), len(kept))
    # The cut was made between t0 and t1, 4 s back.
    assert all(r[2] < (t1 - 4) * 1e9 for r in removed), (removed[-1], t1)
    assert all(r[2] >= (t0 - 4) * 1e9 for r in after), (after[0], t0)
    assert window_rows(store)[0] == after
    status, out, err = spyglass("store", "check", store)
    assert status == 0 and ": ok, %d windows" % len(after) in out, (out, err)

    size0 = os.path.getsize(sized)
    _, used0 = window_rows(sized)
    limit = 96 * 1024
    assert used0 > limit + 64 * 1024, used0  # else the test proves little
    agent = Agent(tmp_path, "--store", sized, "--max-size", "96K", *idle)
    fit = wait_for(lambda: window_rows(sized)[1] <= limit, timeout=15)
    rows, used = window_rows(sized)
    status, log = agent.stop()
    assert status == 0 and log == "", log
    assert fit and rows, (used, len(rows))
    kept = {r[0] for r in rows}
    removed = [r for r in before if r[0] not in kept]
    # Oldest first: every window removed started no later than any kept.
    assert removed and max(r[1] for r in removed) <= min(r[1] for r in rows), (removed, rows)
    # A tenth of what is left at a time: not far under the limit either.
    assert used > limit / 2, used
    # Freed pages are given back (incremental vacuum), not kept in the file.
    assert os.path.getsize(sized) <= limit + 64 * 1024 < size0, (os.path.getsize(sized), size0)
    status, out, err = spyglass("store", "check", sized)
    assert status == 0 and ": ok, %d windows" % len(rows) in out, (out, err)


def test_query_while_the_agent_writes_and_its_outputs(tmp_path):
    """Queries run while the agent writes (WAL: a reader never waits for
    the writer nor fails), from the moment the store appears: each one
    succeeds and sees as many samples as the last or more. Then the
    merged profile of one label value is read by report and convert like
    any recorded file, and diff -o draws the two label values'
    differential flame graph: alpha shrank (5 -> 2 units, blue), gamma
    grew (2 -> 5, red; coloured when significant), beta kept its share."""
    store = str(tmp_path / "s.db")
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "0.5", "-r", "100",
                  "--label-from-env", "APP_VERSION")
    old = workload(tmp_path, "work_split.py", 5, 5, 3, 2, env={"APP_VERSION": "1.4"})
    new = workload(tmp_path, "work_split.py", 5, 2, 3, 5, env={"APP_VERSION": "1.5"})
    # From the moment the store's file is there, it is a store: made
    # whole under another name, then linked (a query in the moment after
    # the agent made the file said "not a spyglass store (an empty
    # database)").
    assert wait_for(lambda: os.path.exists(store), timeout=10, every=0.001)
    seen = []
    while old.poll() is None or new.poll() is None:
        status, out, err = spyglass("query", store, "-o", str(tmp_path / "q.pb.gz"))
        if status == 1 and "no cpu windows" in err and not seen:
            continue  # before the first window
        assert status == 0, err
        m = re.search(r"wrote .*: (\d+) cpu windows, (\d+) samples", err)
        assert m, err
        seen.append((int(m.group(1)), int(m.group(2))))
        status, out, err = spyglass("query", store, "--list")
        assert status == 0 and err == "", err
        time.sleep(0.2)
    truth = truth_of(old)
    truth_of(new)
    time.sleep(1)
    status, log = agent.stop()
    assert status == 0 and log == "", log
    # Read while being written: windows came between the reads.
    assert seen == sorted(seen) and len(set(seen)) >= 3, seen

    merged = str(tmp_path / "old.pb.gz")
    status, _, err = spyglass("query", store, "--where", "APP_VERSION=1.4", "-o", merged)
    assert status == 0, err
    samples = int(re.search(r"(\d+) samples", err).group(1))
    status, out, err = spyglass("convert", merged, "-f", "collapsed", "-o", "-")
    assert status == 0, err
    stacks = parse_folded(out)
    assert sum(stacks.values()) == samples
    # work_split's truth counts units of work (the same loop in each).
    assert_shares(stacks, {"cpu": truth["work"]}, ("alpha", "beta", "gamma"))
    status, out, err = spyglass("report", merged, "--limit", "0")
    assert status == 0, err
    assert re.search(r"^samples: %d over " % samples, out, re.M), out
    rows = {l.split()[-2]: int(l.split()[3]) for l in out.splitlines()
            if l.endswith("(work_split.py)") and len(l.split()) >= 8}
    for name in ("alpha", "beta", "gamma"):
        assert rows[name] == sum(n for s, n in stacks.items()
                                 if any(frame_name(f) == name for f in s)), (name, rows)

    svg = str(tmp_path / "d.svg")
    status, out, err = spyglass("diff", store, "--base", "APP_VERSION=1.4", "--new",
                                "APP_VERSION=1.5", "-o", svg)
    assert status == 0, err
    frames, root, rects = svg_frames(svg)
    status, _, err = spyglass("query", store, "--where", "APP_VERSION=1.5", "-o",
                              str(tmp_path / "new.pb.gz"))
    assert status == 0, err
    assert int(root.get("data-total")) == int(re.search(r"(\d+) samples", err).group(1))
    info = {(int(g.get("data-x")), int(g.get("data-d"))): g.get("data-info")
            for g in root.iter(SVG + "g") if g.get("data-x") is not None}
    change = {}
    for name in ("alpha", "beta", "gamma"):
        boxes = [f for f in frames if f[3] == "%s (work_split.py)" % name]
        assert len(boxes) == 1, (name, frames)
        x, w, d, _ = boxes[0]
        m = re.match(r"base [0-9.]+% \(\d+\), new [0-9.]+% \((\d+)\), change ([-+][0-9.]+) "
                     r"points .*, (significant|not significant)$", info[(x, d)])
        assert m and int(m.group(1)) == w, (name, info[(x, d)])
        r, g, b = fill(rects[(x, d)])
        change[name] = float(m.group(2))
        # Coloured only when significant: blue shrank, red grew.
        if m.group(3) == "significant":
            assert (b == 255 and r == g < 255) if change[name] < 0 else (r == 255 and g == b < 255)
        else:
            assert (r, g, b) == (255, 255, 255), (name, r, g, b)
    # 30 points each way (the windows' samples are a few hundred a side:
    # a share reads within ~7 points); beta's 30% of both.
    assert change["alpha"] < -15 and change["gamma"] > 15 and abs(change["beta"]) < 12, change


def test_two_agents_make_one_new_store(tmp_path):
    """Two agents started at once on a store that does not exist yet: one
    makes it, the other opens it, neither fails (each made its tables in
    the same empty file: 'table spyglass_store already exists', about one
    start in three here)."""
    for i in range(5):
        store = str(tmp_path / ("s%d.db" % i))
        runs = tmp_path / str(i)
        runs.mkdir()
        (runs / "a").mkdir()
        (runs / "b").mkdir()
        idle = ["--store", store, "--match", "no-such-program-%d" % os.getpid()]
        agents = [Agent(runs / "a", *idle), Agent(runs / "b", *idle)]
        time.sleep(0.5)
        for agent in agents:
            status, log = agent.stop()
            assert status == 0 and log == "", log
        status, out, err = spyglass("store", "check", store)
        assert status == 0 and out == "%s: ok, no windows\n" % store, (out, err)
        # The name it was made under is gone.
        assert not [d for d in os.listdir(str(tmp_path)) if ".new" in d], os.listdir(str(tmp_path))
