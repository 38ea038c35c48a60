# SPDX-License-Identifier: MIT
"""spyglass agent, store check and query, against real processes.

Every workload carries a marker on its command line that the agent is told to
--match, so that other Python processes on the machine stay out of the way.
"""
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import DEBIAN, SPYGLASS, WORKLOADS, frame_name, parse_folded, tolerance

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
    settle in the first windows)."""
    store = str(tmp_path / "s.db")
    busy = workload(tmp_path, "churn.py", 140)
    # A sanitizer build keeps freed memory in quarantine (256 MiB): that is
    # not ours to bound.
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "1000",
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
    assert any(s[0] == "cpu" and s[1] >= 100 for s in found), found


def test_diff_between_label_values(tmp_path):
    """Two versions of a program, told apart by a label from their
    environment: the store's diff flags the functions whose split changed
    (alpha 5 -> 2 units, gamma 2 -> 5: 30 points each), and not the one
    that kept its share (beta, 3 of 10 units in both)."""
    store = str(tmp_path / "s.db")
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "100",
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
