# SPDX-License-Identifier: MIT
"""The speedscope and Chrome trace formats, recorded from real workloads and
converted from collapsed files.

speedscope files are checked by tests/consumers/speedscope.mjs (speedscope's
published JSON schema, then speedscope's own importer in headless Chromium),
and against the workloads' ground truth and the collapsed output of a run
alike. Chrome traces are read back with python's json: B/E pairs nest per
thread, times never go back, thread names are the Python ones, and slices
span what the workload measured of itself; speedscope imports them too.
"""
import collections
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import (DEBIAN, ROOT, SPYGLASS, TIMEOUT, WORKLOADS, frame_name, parse_folded,
                      tolerance)

CONSUMERS = os.path.join(ROOT, "tests", "consumers")
PERIOD_NS = 10 * 1000 * 1000  # record's default rate, 100 Hz
SECONDS = 2
THREADS = ["MainThread", "burner-1", "burner-2", "waiter-1"]


def need_python():
    if not DEBIAN:
        pytest.skip("Debian's /usr/bin/python3 not found")


def need_node():
    if not shutil.which("node"):
        pytest.skip("node not found (tools/install-deps.sh installs nodejs)")
    for module in ("ajv", "speedscope"):
        if not os.path.isdir(os.path.join(CONSUMERS, "node_modules", module)):
            pytest.skip("%s not installed in tests/consumers (run tools/install-deps.sh)" % module)


def need_browser():
    """speedscope's importer runs only in a browser: Chromium via playwright-core."""
    if not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("chromium not found (tools/install-deps.sh installs it)")
    if not os.path.isdir(os.path.join(CONSUMERS, "node_modules", "playwright-core")):
        pytest.skip("playwright-core not installed in tests/consumers (run tools/install-deps.sh)")


def run_spyglass(args, env=None):
    proc = subprocess.run([SPYGLASS] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=TIMEOUT, env=env)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    assert proc.returncode == 0, stderr
    return stderr


def record(path, args, workload, seconds=SECONDS):
    """Record workload (under Debian's python) to path; returns its truth."""
    truth = str(path) + ".truth.json"
    env = dict(os.environ, SPYGLASS_TRUTH=truth)
    run_spyglass(["record", "-o", str(path)] + args +
                 ["--", DEBIAN, os.path.join(WORKLOADS, workload), str(seconds)], env=env)
    with open(truth) as f:
        return json.load(f)


def load(path):
    with open(str(path), encoding="utf-8") as f:
        return json.load(f)


def speedscope_check(path, browser=True):
    """Run the consumer test on path; its summary of the file."""
    cmd = ["node", os.path.join(CONSUMERS, "speedscope.mjs"), str(path)]
    if not browser:
        cmd.append("--no-import")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT,
                          cwd=CONSUMERS)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    return json.loads(proc.stdout.decode("utf-8"))


class Trace(object):
    """A Chrome trace read back: per thread, its B/E events checked to nest,
    each E naming the slice it closes, and to keep time order; the slices
    they make."""

    def __init__(self, doc):
        self.doc = doc
        self.thread_names = {}
        self.process_names = {}
        self.events = collections.defaultdict(list)
        for e in doc["traceEvents"]:
            key = (e["pid"], e["tid"])
            if e["ph"] == "M" and e["name"] == "thread_name":
                self.thread_names[key] = e["args"]["name"]
            elif e["ph"] == "M" and e["name"] == "process_name":
                self.process_names[e["pid"]] = e["args"]["name"]
            else:
                assert e["ph"] in ("B", "E"), e
                self.events[key].append(e)
        self.slices = collections.defaultdict(list)  # thread -> [(name, start us, end us)]
        self.args = collections.defaultdict(list)  # thread -> [(name, depth, args)], as slices
        for key, events in self.events.items():
            stack, last = [], None
            for e in events:
                assert last is None or e["ts"] >= last, (key, last, e)
                last = e["ts"]
                assert e["cat"] in ("python", "idle"), e
                if e["ph"] == "B":
                    assert set(e["args"]) <= {"file", "line", "lines"}, e
                    if "lines" in e["args"]:
                        lines = e["args"]["lines"]
                        assert len(lines) > 1 and lines == sorted(set(lines)), e
                        assert e["args"]["line"] in lines, e
                    stack.append(e)
                else:
                    assert stack, "E without B in %r at %r" % (key, e["ts"])
                    begin = stack.pop()
                    assert (e["name"], e["cat"]) == (begin["name"], begin["cat"]), (begin, e)
                    self.slices[key].append((begin["name"], begin["ts"], e["ts"]))
                    self.args[key].append((begin["name"], len(stack), begin["args"]))
            assert not stack, "%d frames never closed in %r" % (len(stack), key)

    def span_us(self, key):
        events = self.events[key]
        return events[-1]["ts"] - events[0]["ts"]

    def time_in(self, key, function):
        """Microseconds thread key spent with function on its stack (outermost
        slices only, so recursion is not counted twice)."""
        total, until = 0.0, -1.0
        for name, start, end in sorted((s for s in self.slices[key]
                                        if frame_name(s[0]) == function), key=lambda s: s[1]):
            if start >= until:
                total += end - start
                until = end
        return total

    def tid_of(self, name):
        keys = [k for k, n in self.thread_names.items() if n == name]
        assert len(keys) == 1, (name, self.thread_names)
        return keys[0]


def used_frames(doc, profile):
    return {doc["shared"]["frames"][i]["name"] for stack in profile["samples"] for i in stack}


def inclusive_weights(doc, profile):
    """Nanoseconds per function name, counted once per sample it is in."""
    frames = doc["shared"]["frames"]
    weights = collections.Counter()
    for stack, weight in zip(profile["samples"], profile["weights"]):
        for name in {frame_name(frames[i]["name"]) for i in stack}:
            weights[name] += weight
    return weights


def check_speedscope_structure(doc):
    """What every speedscope file spyglass writes holds."""
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert doc["exporter"] == "spyglass"
    names = [f["name"] for f in doc["shared"]["frames"]]
    assert len(names) == len(set(names)), "a frame listed twice"
    used = set()
    for p in doc["profiles"]:
        assert p["type"] == "sampled" and p["unit"] == "nanoseconds"
        assert p["endValue"] - p["startValue"] == sum(p["weights"])
        used |= used_frames(doc, p)
    assert used == set(names), "frames listed but not used"


# ---- recorded: threads.py in wall mode, cpu_split.py in cpu mode ----

@pytest.fixture(scope="module")
def wall_runs(tmp_path_factory):
    """threads.py in wall mode with --threads, recorded once per format."""
    need_python()
    tmp = tmp_path_factory.mktemp("wall")
    runs = {}
    for ext in (".speedscope.json", ".trace.json", ".folded"):
        path = tmp / ("threads" + ext)
        runs[ext] = (path, record(path, ["--mode", "wall", "--threads"], "threads.py"))
    return runs


def test_wall_speedscope(wall_runs):
    need_node()
    path, truth = wall_runs[".speedscope.json"]
    doc = load(path)
    check_speedscope_structure(doc)
    summary = speedscope_check(path, browser=False)
    assert summary["frames"] == [f["name"] for f in doc["shared"]["frames"]]
    by_name = {p["name"].split(" (tid ")[0]: p for p in doc["profiles"]}
    assert set(THREADS) <= set(by_name), list(by_name)
    for name, tid in truth.get("tids", {}).items():
        assert by_name[name]["name"] == "%s (tid %d)" % (name, tid)
    # Every sample weighs the period; in wall mode each thread is sampled
    # every tick of its life, so the weights add up to how long it ran.
    for p in doc["profiles"]:
        assert all(w % PERIOD_NS == 0 for w in p["weights"]), p["name"]
    for thread, function in (("burner-1", "burn_one"), ("burner-2", "burn_two"),
                             ("waiter-1", "wait_here")):
        got = inclusive_weights(doc, by_name[thread])[function] / 1e9
        assert abs(got - truth["wall"][function]) <= max(4 * PERIOD_NS / 1e9,
                                                         0.05 * truth["wall"][function]), (
            thread, got, truth["wall"])
    # The same workload recorded to collapsed takes about as many samples.
    folded_path, _ = wall_runs[".folded"]
    with open(str(folded_path), encoding="utf-8") as f:
        folded_total = sum(parse_folded(f.read()).values())
    total = sum(sum(p["weights"]) for p in doc["profiles"]) // PERIOD_NS
    assert abs(total - folded_total) <= 0.1 * folded_total, (total, folded_total)
    # Shown first: a thread that burns CPU, not one that waits.
    shown = doc["profiles"][doc["activeProfileIndex"]]["name"]
    assert shown.startswith("burner-"), shown


def test_wall_speedscope_imports(wall_runs):
    """speedscope's own importer reads the file and sees the same profiles."""
    need_node()
    need_browser()
    path, _ = wall_runs[".speedscope.json"]
    doc = load(path)
    summary = speedscope_check(path)
    assert summary["imported"] is True
    assert summary["title"] == doc["name"] + " - speedscope"
    assert [p["name"] for p in summary["profiles"]] == [p["name"] for p in doc["profiles"]]


def test_wall_chrometrace(wall_runs):
    path, truth = wall_runs[".trace.json"]
    trace = Trace(load(path))
    doc = trace.doc
    assert doc["displayTimeUnit"] == "ms"
    assert doc["otherData"]["mode"] == "wall" and doc["otherData"]["timeline"] is True
    assert sorted(trace.thread_names.values()) == sorted(THREADS), trace.thread_names
    for name, tid in truth.get("tids", {}).items():
        assert trace.tid_of(name) == (truth["pid"], tid)
    assert trace.process_names == {truth["pid"]: trace.process_names[truth["pid"]]}
    assert "threads.py" in trace.process_names[truth["pid"]]
    period_us = PERIOD_NS / 1000.0
    # A thread's events span its life: as long as the function it ran, and
    # that function's slices last as long as the workload measured.
    for thread, function in (("burner-1", "burn_one"), ("burner-2", "burn_two"),
                             ("waiter-1", "wait_here")):
        key = trace.tid_of(thread)
        wall_us = truth["wall"][function] * 1e6
        slack = max(3 * period_us, 0.05 * wall_us)
        assert abs(trace.span_us(key) - wall_us) <= slack, (thread, trace.span_us(key), wall_us)
        assert abs(trace.time_in(key, function) - wall_us) <= slack, (
            thread, trace.time_in(key, function), wall_us)
    main = trace.tid_of("MainThread")
    assert trace.span_us(main) >= truth["wall"]["burn_one"] * 1e6 - 3 * period_us
    assert trace.span_us(main) <= doc["otherData"]["duration_ns"] / 1000.0 + period_us
    # Wall mode samples every thread every tick: the spans add up to the
    # samples taken (less what missed ticks left as gaps).
    ticks = sum(trace.span_us(k) for k in trace.events) / period_us
    samples = doc["otherData"]["samples"]
    assert abs(ticks - samples) <= 0.05 * samples + 2 * len(trace.events), (ticks, samples)
    # Idle time is an "[idle]" leaf: waiter-1 is idle most of its life.
    waiter = trace.tid_of("waiter-1")
    idle_us = sum(end - start for name, start, end in trace.slices[waiter] if name == "[idle]")
    assert idle_us >= 0.9 * truth["wall"]["wait_here"] * 1e6, idle_us


def test_wall_chrometrace_in_speedscope(wall_runs):
    """speedscope opens Chrome traces too, and nests their slices strictly."""
    need_node()
    need_browser()
    path, truth = wall_runs[".trace.json"]
    summary = speedscope_check(path)
    assert summary["imported"] is True
    assert sorted(t["name"] for t in summary["threads"]) == sorted(THREADS)


@pytest.fixture(scope="module")
def cpu_runs(tmp_path_factory):
    """cpu_split.py in cpu mode, recorded once per format."""
    need_python()
    tmp = tmp_path_factory.mktemp("cpu")
    return {ext: (tmp / ("cpu" + ext), record(tmp / ("cpu" + ext), [], "cpu_split.py"))
            for ext in (".speedscope.json", ".trace.json")}


def check_shares(measured, truth, per_sample):
    """measured: time per function, per_sample of it for each sample;
    truth: CPU seconds per function."""
    names = ("alpha", "beta", "gamma")
    n = sum(measured[f] for f in names)
    true_n = sum(truth[f] for f in names)
    for f in names:
        got, want = measured[f] / float(n), truth[f] / true_n
        assert abs(got - want) <= tolerance(want, n / per_sample), (f, got, want)


def test_cpu_speedscope(cpu_runs):
    need_node()
    path, truth = cpu_runs[".speedscope.json"]
    doc = load(path)
    check_speedscope_structure(doc)
    speedscope_check(path, browser=False)
    [profile] = doc["profiles"]
    # cpu_split.py never imports threading: the kernel's name it is.
    assert profile["name"].endswith(" (tid %d)" % truth["pid"]), profile["name"]
    assert doc["activeProfileIndex"] == 0
    assert "[idle]" not in used_frames(doc, profile)
    weights = inclusive_weights(doc, profile)
    check_shares(weights, truth["cpu"], PERIOD_NS)
    # cpu mode weighs a sample by the CPU time its thread used since its
    # previous one, not by the period (on a busy machine a runnable thread
    # waits for a core): the functions weigh the CPU time the workload
    # measured in them, within 15% (the kernel's count of a running thread
    # lags by up to a scheduler tick).
    names = ("alpha", "beta", "gamma")
    cpu_ns = sum(truth["cpu"][f] for f in names) * 1e9
    got_ns = sum(weights[f] for f in names)
    assert abs(got_ns - cpu_ns) <= 0.15 * cpu_ns, (got_ns, cpu_ns)


def test_cpu_chrometrace(cpu_runs):
    path, truth = cpu_runs[".trace.json"]
    trace = Trace(load(path))
    assert trace.doc["otherData"]["mode"] == "cpu"
    main = (truth["pid"], truth["pid"])
    assert list(trace.events) == [main]
    assert trace.thread_names[main]
    check_shares({f: trace.time_in(main, f) for f in ("alpha", "beta", "gamma")}, truth["cpu"],
                 PERIOD_NS / 1000.0)


# ---- converted from collapsed: no timeline, rows laid end to end ----

@pytest.fixture(scope="module")
def converted(wall_runs, tmp_path_factory):
    folded_path, _ = wall_runs[".folded"]
    tmp = tmp_path_factory.mktemp("convert")
    out = {}
    for ext in (".speedscope.json", ".trace.json"):
        out[ext] = tmp / ("converted" + ext)
        run_spyglass(["convert", str(folded_path), "-o", str(out[ext])])
    with open(str(folded_path), encoding="utf-8") as f:
        out["stacks"] = parse_folded(f.read())
    return out


def folded_threads(stacks):
    """Per tid of the "thread TID: NAME" roots: (name, samples, frames below the root)."""
    names, counts, frames = {}, collections.Counter(), collections.defaultdict(set)
    for stack, n in stacks.items():
        tid, name = stack[0][len("thread "):].split(": ", 1)
        names[int(tid)] = name
        counts[int(tid)] += n
        frames[int(tid)] |= set(stack[1:])
    return {tid: (names[tid], counts[tid], frames[tid]) for tid in names}


def test_convert_speedscope(converted):
    need_node()
    path = converted[".speedscope.json"]
    doc = load(path)
    check_speedscope_structure(doc)
    speedscope_check(path, browser=False)
    threads = folded_threads(converted["stacks"])
    by_name = {p["name"]: p for p in doc["profiles"]}
    assert set(by_name) == {"%s (tid %d)" % (name, tid) for tid, (name, _, _) in threads.items()}
    every_frame = set()
    for tid, (name, count, frames) in threads.items():
        p = by_name["%s (tid %d)" % (name, tid)]
        # No timeline: one sample per line, from 0, weighing count x period
        # (the collapsed file has no times: record's default rate is assumed).
        assert p["startValue"] == 0
        assert sum(p["weights"]) == count * PERIOD_NS
        assert used_frames(doc, p) == frames
        every_frame |= frames
    assert {f["name"] for f in doc["shared"]["frames"]} == every_frame


def test_convert_chrometrace(converted):
    trace = Trace(load(converted[".trace.json"]))
    assert trace.doc["otherData"]["timeline"] is False
    threads = folded_threads(converted["stacks"])
    assert {k[1]: n for k, n in trace.thread_names.items()} == {
        tid: name for tid, (name, _, _) in threads.items()}
    for key, events in trace.events.items():
        name, count, frames = threads[key[1]]
        # Lines end to end from 0, each count x period long.
        assert events[0]["ts"] == 0
        assert events[-1]["ts"] == count * PERIOD_NS / 1000.0
        # A slice is a function: its name has no line.
        assert {s[0] for s in trace.slices[key]} == {re.sub(r":\d+\)$", ")", f) for f in frames}


def test_convert_imports(converted):
    need_node()
    need_browser()
    assert speedscope_check(converted[".speedscope.json"])["imported"] is True
    assert speedscope_check(converted[".trace.json"])["imported"] is True


def test_chrometrace_one_slice_per_call(tmp_path):
    """A frame that stays on the stack is one slice while its line changes:
    the lines are in its args. alternate() runs the whole time, going from
    one hot line to the other every few milliseconds."""
    need_python()
    path = tmp_path / "alternate.trace.json"
    truth = record(path, [], "alternate.py", seconds=2)
    trace = Trace(load(path))
    (key,) = [k for k in trace.slices if k[0] == truth["pid"]]
    calls = [(depth, args) for name, depth, args in trace.args[key]
             if frame_name(name) == "alternate"]
    roots = [args for name, depth, args in trace.args[key] if depth == 0]
    # Every slice closes where the thread went unsampled for over a period
    # (a loaded machine misses ticks): alternate() may be cut there, as its
    # callers are, but not at each change of line, which happens every few
    # ms, so hundreds of times (before, it was a slice per change).
    assert 1 <= len(calls) <= len(roots), (len(calls), len(roots))
    assert len({depth for depth, _ in calls}) == 1, calls
    hot = set(truth["hot"])
    assert any(hot <= set(args.get("lines", ())) for _, args in calls), (hot, calls)
    if shutil.which("node") and os.path.isdir(os.path.join(CONSUMERS, "node_modules", "ajv")):
        need_browser()
        assert speedscope_check(path)["imported"] is True
